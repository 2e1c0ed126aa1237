package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/httpapi"
)

// requestPage is the Data of the request detail template.
type requestPage struct {
	R        *requestView
	Params   *jsonNode
	Context  *jsonNode
	Policy   approval.PolicyDecision
	Timeline []timelineItem
	// Prev and Next are the neighbouring pending requests in the queue
	// (j/k); After is where a decision leads (the next one, or the queue).
	Prev, Next, After string
	Position, Total   int
	// A failed decision re-renders the page with its error and input.
	Error    string
	Reason   string
	Decision string
}

// timelineItem is one entry of a request's history.
type timelineItem struct {
	Kind   string // created, routed, approved, denied, expired, other
	Title  string
	Actor  string
	Via    string
	Reason string
	At     time.Time
}

// request serves GET /requests/{id}.
func (d *Dashboard) request(w http.ResponseWriter, r *http.Request, v *view) error {
	pg, err := d.requestPage(r, v)
	if err != nil {
		return err
	}
	d.render(w, r, v, http.StatusOK, "request", &Page{Title: pg.R.Action, Nav: "queue", Data: pg})
	return nil
}

func (d *Dashboard) requestPage(r *http.Request, v *view) (*requestPage, error) {
	ctx := r.Context()
	req, err := d.approvals.Get(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	audit, err := d.approvals.RequestAudit(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	now := d.now()
	pg := &requestPage{R: newRequestView(req, v.p, now), Policy: req.PolicyDecision, After: "/"}
	if pg.Params, err = parseTree(req.Params); err != nil {
		pg.Params = &jsonNode{Kind: "string", Value: string(req.Params)}
	}
	if pg.Context, err = parseTree(req.Context); err != nil {
		pg.Context = &jsonNode{Kind: "string", Value: string(req.Context)}
	}
	pg.Timeline = timeline(req, audit)
	if req.Status == approval.StatusPending {
		// The neighbours in the queue's first page, for j/k and for
		// moving on after a decision.
		queue, total, err := d.approvals.List(ctx, approval.RequestFilter{
			Status: approval.StatusPending, Sort: approval.SortUrgency, Limit: queuePageSize,
		})
		if err != nil {
			return nil, err
		}
		pg.Total = int(total)
		for i, q := range queue {
			if q.ID != req.ID {
				continue
			}
			pg.Position = i + 1
			if i > 0 {
				pg.Prev = "/requests/" + url.PathEscape(queue[i-1].ID)
			}
			if i+1 < len(queue) {
				pg.Next = "/requests/" + url.PathEscape(queue[i+1].ID)
				pg.After = pg.Next
			}
		}
	}
	return pg, nil
}

// timeline turns a request's audit trail into readable entries.
func timeline(req *approval.Request, audit []*approval.AuditEvent) []timelineItem {
	var out []timelineItem
	for _, e := range audit {
		var det struct {
			Channel        string                   `json:"channel"`
			Reason         string                   `json:"reason"`
			Label          string                   `json:"label"`
			PolicyDecision *approval.PolicyDecision `json:"policyDecision"`
		}
		_ = json.Unmarshal(e.Details, &det) // a detail that does not parse just shows less
		it := timelineItem{Kind: e.EventType, Actor: e.Actor, Via: det.Channel, Reason: det.Reason, At: e.CreatedAt}
		switch e.EventType {
		case approval.EventCreated:
			it.Title = "Requested by " + cmpOr(e.Actor, "an agent")
			out = append(out, it)
			if pd := det.PolicyDecision; pd != nil {
				out = append(out, routedItem(*pd, e.CreatedAt))
			}
			continue
		case approval.EventApproved:
			it.Title = "Approved"
		case approval.EventDenied:
			it.Title = "Denied"
		case approval.EventExpired:
			it.Title = "Expired"
		case approval.EventVoted:
			var v struct{ Votes, Required int }
			_ = json.Unmarshal(e.Details, &v)
			it.Kind, it.Title = "voted", "Approved ("+strconv.Itoa(v.Votes)+" of "+strconv.Itoa(v.Required)+")"
		case approval.EventEscalated:
			it.Title = "Escalated"
		case approval.EventEdited:
			it.Title = "Params edited"
		default:
			it.Kind, it.Title = "other", titleCase(strings.ReplaceAll(e.EventType, ".", " "))
		}
		switch e.ActorType {
		case approval.ActorPolicy:
			it.Title += " by policy"
			it.Actor = req.PolicyDecision.PolicyName
		case approval.ActorSystem:
			it.Title += " automatically"
			it.Actor = ""
		default:
			if it.Actor != "" {
				it.Title += " by " + it.Actor
			}
		}
		if det.Label != "" {
			it.Title += " (" + det.Label + ")"
		}
		out = append(out, it)
	}
	return out
}

func routedItem(pd approval.PolicyDecision, at time.Time) timelineItem {
	it := timelineItem{Kind: "routed", At: at, Reason: pd.Reason}
	switch pd.Decision {
	case "auto_approve":
		it.Title = "Policy approved it"
	case "auto_deny":
		it.Title = "Policy denied it"
	default:
		it.Title = "Routed to a person"
	}
	if pd.PolicyName != "" {
		it.Actor = pd.PolicyName
		if pd.RuleIndex != nil {
			it.Actor += " · rules[" + strconv.Itoa(*pd.RuleIndex) + "]"
		}
	}
	return it
}

// decisionOf reads the form's decision; "approve"/"deny" are accepted too.
func decisionOf(s string) approval.Status {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "approved", "approve":
		return approval.StatusApproved
	case "denied", "deny":
		return approval.StatusDenied
	}
	return approval.Status(s)
}

// decide serves POST /requests/{id}/decide: the signed-in person approves
// or denies through the approval service, as the key's name on the
// dashboard channel. The script posts with Accept: application/json and
// gets JSON; a plain form gets a redirect.
func (d *Dashboard) decide(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	in := approval.DecideInput{Decision: decisionOf(r.PostForm.Get("decision")), Reason: r.PostForm.Get("reason")}
	req, err := d.approvals.Decide(r.Context(), v.actor(), r.PathValue("id"), in)
	if err != nil {
		if wantsJSON(r) || approval.ErrorCode(err) == approval.CodeNotFound || approval.ErrorCode(err) == approval.CodeInternal {
			return err
		}
		// Show the page again with the message next to the form.
		pg, perr := d.requestPage(r, v)
		if perr != nil {
			return err
		}
		pg.Error, pg.Reason, pg.Decision = approval.ErrorMessage(err), in.Reason, string(in.Decision)
		d.render(w, r, v, httpapi.StatusOf(err), "request", &Page{Title: pg.R.Action, Nav: "queue", Data: pg})
		return nil
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"id": req.ID, "status": req.Status, "votes": req.ApprovalVotes, "required": req.RequiredApprovals()})
		return nil
	}
	toast := string(req.Status)
	if req.Status == approval.StatusPending {
		toast = "voted" // a quorum vote: the request waits for more approvals
	}
	redirect(w, r, withToast(localPath(r.PostForm.Get("next"), "/"), toast))
	return nil
}

// withToast adds ?toast=code to a local path.
func withToast(p, code string) string {
	u, err := url.Parse(p)
	if err != nil {
		return "/?toast=" + url.QueryEscape(code)
	}
	q := u.Query()
	q.Set("toast", code)
	u.RawQuery = q.Encode()
	return u.String()
}
