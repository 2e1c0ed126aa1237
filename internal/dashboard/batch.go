package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/httpapi"
)

// batchItem is the outcome of one request of a batch decision.
type batchItem struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	OK     bool   `json:"ok"`
	// Outcome is approved, denied or voted (a quorum vote) when OK, else
	// skipped (already decided, needs a reason, not found), forbidden or
	// failed.
	Outcome string `json:"outcome"`
	// Label is the short text shown on the card: "approved", "skipped:
	// already decided", "forbidden: not an approver".
	Label   string `json:"label"`
	Message string `json:"message,omitempty"` // the service's full message
}

// batchResult is the answer to a batch decision.
type batchResult struct {
	Decision string      `json:"decision"`
	Items    []batchItem `json:"results"`
	Done     int         `json:"done"`
	Failed   int         `json:"failed"`
	// Summary is one line about the batch: "2 approved · 1 skipped".
	Summary string `json:"summary"`
}

func (b *batchResult) summary() string {
	counts := map[string]int{}
	var order []string
	for _, it := range b.Items {
		if counts[it.Outcome] == 0 {
			order = append(order, it.Outcome)
		}
		counts[it.Outcome]++
	}
	parts := make([]string, 0, len(order))
	for _, o := range order {
		word := o
		if o == "voted" {
			word = "votes recorded"
			if counts[o] == 1 {
				word = "vote recorded"
			}
		}
		parts = append(parts, strconv.Itoa(counts[o])+" "+word)
	}
	return strings.Join(parts, " · ")
}

// batchOutcome names the result of one decision for people.
func batchOutcome(res approval.BatchResult) (outcome, label string) {
	if res.Err == nil {
		r := res.Request
		if r.Status == approval.StatusPending {
			return "voted", "vote recorded (" + strconv.Itoa(r.ApprovalVotes) + " of " + strconv.Itoa(r.RequiredApprovals()) + ")"
		}
		return string(r.Status), string(r.Status)
	}
	msg := approval.ErrorMessage(res.Err)
	low := strings.ToLower(msg)
	switch approval.ErrorCode(res.Err) {
	case approval.CodeNotFound:
		return "skipped", "skipped: not found"
	case approval.CodeConflict:
		if strings.Contains(low, "already approved this request") {
			return "skipped", "skipped: you already approved"
		}
		return "skipped", "skipped: already decided"
	case approval.CodeForbidden:
		if strings.Contains(low, "created a request") {
			return "forbidden", "forbidden: your own request"
		}
		return "forbidden", "forbidden: not an approver"
	case approval.CodeInvalid:
		if strings.Contains(low, "reason is required") {
			return "skipped", "skipped: requires a reason"
		}
		return "skipped", "skipped: " + msg
	}
	return "failed", "failed: " + msg
}

// decideBatch serves POST /requests/batch: the queue's "Approve selected"
// and "Deny selected". Each request is decided on its own (Service.
// DecideBatch), so one that cannot be decided does not stop the others;
// the answer lists every outcome. Denying several at once needs a
// reason: the agents are told why.
func (d *Dashboard) decideBatch(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	ids := r.PostForm["id"]
	in := approval.DecideInput{Decision: decisionOf(r.PostForm.Get("decision")), Reason: strings.TrimSpace(r.PostForm.Get("reason"))}
	var err error
	switch {
	case len(ids) == 0:
		err = approval.Errorf(approval.CodeInvalid, "Select the requests to decide first.")
	case len(ids) > approval.MaxBatch:
		err = approval.Errorf(approval.CodeInvalid, "Select at most %d requests at once.", approval.MaxBatch)
	case in.Decision == approval.StatusDenied && in.Reason == "":
		err = approval.Errorf(approval.CodeInvalid, "Add a reason to deny the selected requests: their agents are told why.")
	}
	var results []approval.BatchResult
	if err == nil {
		results, err = d.approvals.DecideBatch(r.Context(), v.actor(), ids, in)
	}
	if err != nil {
		if wantsJSON(r) || approval.ErrorCode(err) == approval.CodeInternal {
			return err
		}
		return d.renderQueue(w, r, v, httpapi.StatusOf(err), 0, &queueBatch{Error: approval.ErrorMessage(err), Reason: in.Reason})
	}
	out := &batchResult{Decision: string(in.Decision)}
	for _, res := range results {
		it := batchItem{ID: res.ID, OK: res.Err == nil}
		it.Outcome, it.Label = batchOutcome(res)
		switch {
		case res.Request != nil:
			it.Action = res.Request.Action
		case approval.ErrorCode(res.Err) != approval.CodeNotFound:
			if cur, gerr := d.approvals.Get(r.Context(), res.ID); gerr == nil {
				it.Action = cur.Action
			}
		}
		if res.Err != nil {
			it.Message = approval.ErrorMessage(res.Err)
			if approval.ErrorCode(res.Err) == approval.CodeInternal {
				d.log.ErrorContext(r.Context(), "dashboard batch decision failed", "request_id", httpapi.RequestID(r.Context()), "id", res.ID, "err", res.Err)
			}
			out.Failed++
		} else {
			out.Done++
		}
		out.Items = append(out.Items, it)
	}
	out.Summary = out.summary()
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	return d.renderQueue(w, r, v, http.StatusOK, 0, &queueBatch{Result: out})
}
