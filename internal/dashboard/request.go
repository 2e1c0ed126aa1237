package dashboard

import (
	"context"
	"encoding/json"
	"errors"
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

	// CanEdit is true when an approval may edit the params and give a
	// grant: one approval decides (a quorum's votes cannot do either).
	CanEdit      bool
	ParamsText   string // the editor's text
	EditRows     int    // the editor's height: the text's lines, within bounds
	EditOpen     bool   // the editor starts open (a failed edit)
	EditError    string // why the edit was refused, shown in the editor
	Grant        string // the chosen grant duration
	GrantUses    string
	GrantChoices []grantChoice

	// Approvers is who may decide, groups expanded; empty means anyone
	// with request:decide. NotApprover is true when the signed-in key is
	// not on the list.
	Approvers   []approverView
	NotApprover bool
	Quorum      *quorumView
	Escalation  []escalationStep

	// Changes and Original show an approval with edited params: Params is
	// then the approved params.
	Changes  []paramChange
	Original *jsonNode
	// ByGrant is the grant that approved the request; GrantGiven is the
	// grant its approval created.
	ByGrant    *grantView
	GrantGiven *grantView
}

// timelineItem is one entry of a request's history.
type timelineItem struct {
	Kind    string // created, routed, approved, denied, expired, voted, escalated, grant, other
	Title   string
	Actor   string
	Via     string
	Reason  string
	Note    string        // a muted line of facts (escalation targets, grant terms)
	Changes []paramChange // an approval with edited params
	Link    string        // a related page (the grant)
	At      time.Time
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
	pg := &requestPage{R: newRequestView(req, v.p, now), Policy: req.PolicyDecision, After: "/", GrantChoices: grantChoices}
	pg.Params = tree(req.Params)
	pg.Context = tree(req.Context)
	if req.ApprovedParams != nil {
		pg.Original, pg.Params = pg.Params, tree(req.ApprovedParams)
		pg.Changes = paramDiff(req.Params, req.ApprovedParams)
	}
	pg.Timeline = timeline(req, audit)
	if pg.Approvers, err = d.approverList(ctx, allowedApprovers(req)); err != nil {
		return nil, err
	}
	fired := map[int]time.Time{}
	var given string
	for _, e := range audit {
		switch e.EventType {
		case approval.EventEscalated:
			var det struct{ Step int }
			if json.Unmarshal(e.Details, &det) == nil && det.Step > 0 {
				fired[det.Step] = e.CreatedAt
			}
		case approval.EventGrantCreated:
			var det struct{ GrantID string }
			if json.Unmarshal(e.Details, &det) == nil {
				given = det.GrantID
			}
		}
	}
	pg.Escalation = escalationSteps(req, fired)
	if req.RequiredApprovals() > 1 {
		pg.Quorum = &quorumView{Votes: req.ApprovalVotes, Required: req.RequiredApprovals()}
		ds, err := d.approvals.DecisionsOf(ctx, req.ID)
		if err != nil {
			return nil, err
		}
		for _, dec := range ds {
			if dec.Outcome != approval.StatusApproved {
				continue
			}
			pg.Quorum.Voters = append(pg.Quorum.Voters, dec.ActorName)
			if dec.ActorID == v.p.KeyID {
				pg.Quorum.YouVoted = true
			}
		}
	}
	if err := d.grantsOf(ctx, req, given, pg, now); err != nil {
		return nil, err
	}
	if req.Status == approval.StatusPending {
		pg.CanEdit = req.RequiredApprovals() == 1
		pg.ParamsText = prettyParams(req.Params)
		pg.EditRows = editRows(pg.ParamsText)
		pg.NotApprover = pg.R.Blocker == "" && !mayDecide(pg.Approvers, v.p)
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

// grantsOf fills in the grant that approved req and the one its approval
// gave.
func (d *Dashboard) grantsOf(ctx context.Context, req *approval.Request, given string, pg *requestPage, now time.Time) error {
	if req.GrantID == "" && given == "" {
		return nil
	}
	agents, err := d.agentNames(ctx)
	if err != nil {
		return err
	}
	for _, x := range []struct {
		id  string
		dst **grantView
	}{{req.GrantID, &pg.ByGrant}, {given, &pg.GrantGiven}} {
		if x.id == "" {
			continue
		}
		g, err := d.findGrant(ctx, x.id, req.AgentID, req.Action)
		if err != nil {
			return err
		}
		if g != nil {
			*x.dst = newGrantView(g, agents, now)
		} else {
			*x.dst = &grantView{ID: x.id} // older than the search reaches: the id still links
		}
	}
	return nil
}

// editRows sizes the params editor to its text, from 6 to 24 lines.
func editRows(text string) int {
	return min(24, max(6, strings.Count(text, "\n")+2))
}

// tree is the viewer's tree of raw, or the raw text when it does not parse.
func tree(raw json.RawMessage) *jsonNode {
	n, err := parseTree(raw)
	if err != nil {
		return &jsonNode{Kind: "string", Value: string(raw)}
	}
	return n
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
			Edited         bool                     `json:"edited"`
			ParamsBefore   json.RawMessage          `json:"paramsBefore"`
			ParamsAfter    json.RawMessage          `json:"paramsAfter"`
			GrantID        string                   `json:"grantId"`
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
			if det.Edited {
				it.Title = "Approved with edited params"
				it.Changes = paramDiff(det.ParamsBefore, det.ParamsAfter)
			}
		case approval.EventDenied:
			it.Title = "Denied"
		case approval.EventExpired:
			it.Title = "Expired"
		case approval.EventVoted:
			var v struct{ Votes, Required int }
			_ = json.Unmarshal(e.Details, &v)
			it.Kind, it.Title = "voted", "Approved ("+strconv.Itoa(v.Votes)+" of "+strconv.Itoa(v.Required)+")"
		case approval.EventEscalated:
			var s struct {
				Step, Of int
				After    string
				To       []string
			}
			_ = json.Unmarshal(e.Details, &s)
			it.Title = "Escalated (step " + strconv.Itoa(s.Step) + " of " + strconv.Itoa(s.Of) + ")"
			it.Note = escalationNote(s.After, s.To)
			it.Actor, it.Via = "", ""
			out = append(out, it)
			continue
		case approval.EventEdited:
			it.Title = "Params edited"
		case approval.EventGrantCreated:
			var g struct {
				GrantID   string `json:"grantId"`
				ExpiresAt string `json:"expiresAt"`
				MaxUses   *int   `json:"maxUses"`
			}
			_ = json.Unmarshal(e.Details, &g)
			it.Kind, it.Title, it.Link = "grant", "Grant given by "+cmpOr(e.Actor, "an approver"), grantLink(g.GrantID)
			it.Note = grantTerms(req, g.ExpiresAt, g.MaxUses)
			out = append(out, it)
			continue
		case approval.EventGrantUsed:
			var g struct {
				GrantID   string `json:"grantId"`
				Uses      int    `json:"uses"`
				MaxUses   *int   `json:"maxUses"`
				CreatedBy string `json:"createdBy"`
			}
			_ = json.Unmarshal(e.Details, &g)
			it.Kind, it.Title, it.Link = "grant", "Grant "+g.GrantID+" used", grantLink(g.GrantID)
			it.Note = "Use " + strconv.Itoa(g.Uses)
			if g.MaxUses != nil {
				it.Note += " of " + strconv.Itoa(*g.MaxUses)
			}
			if g.CreatedBy != "" {
				it.Note += " · given by " + g.CreatedBy
			}
			it.Actor = ""
			out = append(out, it)
			continue
		case approval.EventGrantRevoked:
			it.Kind, it.Title, it.Link = "grant", "Grant "+det.GrantID+" revoked", grantLink(det.GrantID)
		case approval.EventNotificationSent, approval.EventNotificationFailed:
			out = append(out, notificationItem(e))
			continue
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
		case approval.ActorGrant:
			id := cmpOr(det.GrantID, e.ActorID)
			it.Title += " by grant " + id
			it.Link, it.Actor, it.Via = grantLink(id), "", ""
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

// grantLink is the grants page's anchor of grant id.
func grantLink(id string) string {
	if id == "" {
		return ""
	}
	return "/grants#g-" + id
}

// grantTerms describes what a grant allows: "deploy from deploy-bot until
// 26 Nov 2026, 08:24 UTC, at most 5 uses".
func grantTerms(req *approval.Request, expiresAt string, maxUses *int) string {
	s := "Approves " + req.Action + " from " + cmpOr(req.AgentName, req.AgentID)
	if t, err := time.Parse(time.RFC3339, expiresAt); err == nil {
		s += " until " + displayTime(t)
	}
	if maxUses != nil {
		s += ", at most " + strconv.Itoa(*maxUses)
		if *maxUses == 1 {
			s += " use"
		} else {
			s += " uses"
		}
	}
	return s
}

// escalationNote describes a fired step: "No decision after 15m:
// notified slack:#oncall".
func escalationNote(after string, to []string) string {
	s := "No decision"
	if d, err := time.ParseDuration(after); err == nil {
		s += " after " + roughDuration(d, false)
	}
	if len(to) > 0 {
		s += ": notified " + strings.Join(to, ", ")
	}
	return s
}

// notificationItem shows a Slack, Discord or email message about the
// request: sent, or why not.
func notificationItem(e *approval.AuditEvent) timelineItem {
	var n struct {
		Channel, Target, Operation, Error string
		Final                             bool
	}
	_ = json.Unmarshal(e.Details, &n)
	names := map[string]string{"slack": "Slack", "discord": "Discord", "email": "email"}
	where := cmpOr(names[n.Channel], n.Channel) + " " + n.Target
	it := timelineItem{Kind: "other", At: e.CreatedAt, Title: "Sent to " + where}
	if e.EventType == approval.EventNotificationFailed {
		it.Title, it.Reason = "Could not send to "+where, n.Error
		if n.Operation == "update" {
			it.Title = "Could not update the message on " + where
		}
		if !n.Final {
			it.Title += " (retrying)"
		}
	}
	return it
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
// dashboard channel. An approval may carry edited params and a grant.
// The script posts with Accept: application/json and gets JSON; a plain
// form gets a redirect, or the page again with the error next to the
// form.
func (d *Dashboard) decide(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	in := approval.DecideInput{Decision: decisionOf(r.PostForm.Get("decision")), Reason: r.PostForm.Get("reason")}
	af := readApprovalForm(r.PostForm)
	var err error
	if in.Decision == approval.StatusApproved && (af.Params != "" || af.Grant != "") {
		// Without the script the editor's text is always posted: it is an
		// edit only when it differs from the request's params.
		var cur *approval.Request
		if cur, err = d.approvals.Get(r.Context(), id); err == nil {
			err = af.apply(&in, cur.Params)
		}
	}
	var req *approval.Request
	if err == nil {
		req, err = d.approvals.Decide(r.Context(), v.actor(), id, in)
	}
	if err != nil {
		return d.decideFailed(w, r, v, err, in, af)
	}
	edited, grant := req.ApprovedParams != nil && in.RawParams != nil, in.Grant != nil
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"id": req.ID, "status": req.Status, "votes": req.ApprovalVotes,
			"required": req.RequiredApprovals(), "edited": edited, "grant": grant})
		return nil
	}
	next := localPath(r.PostForm.Get("next"), "/")
	toast := string(req.Status)
	switch {
	case req.Status == approval.StatusPending:
		// A quorum vote: the request waits for more approvals.
		next = localPath(r.PostForm.Get("afterVote"), next)
		redirect(w, r, withVoteToast(next, req.ApprovalVotes, req.RequiredApprovals()))
		return nil
	case edited || grant:
		// Stay on the request: it shows the approved params and the grant.
		next = "/requests/" + url.PathEscape(req.ID)
		toast = "approved-edited"
		if grant {
			toast = "approved-grant"
		}
	}
	redirect(w, r, withToast(next, toast))
	return nil
}

// decideFailed answers a refused decision: JSON for the script (with
// "field": "params" when the message belongs to the params editor), else
// the request page again with the message next to the form.
func (d *Dashboard) decideFailed(w http.ResponseWriter, r *http.Request, v *view, err error, in approval.DecideInput, af approvalForm) error {
	code := approval.ErrorCode(err)
	_, isEdit := errors.AsType[*editError](err)
	// The service refuses an edit the policies deny (422) or params it
	// cannot take (400 "params …").
	isEdit = isEdit || af.Params != "" && (code == approval.CodeUnprocessable ||
		code == approval.CodeInvalid && strings.HasPrefix(strings.ToLower(approval.ErrorMessage(err)), "params"))
	if wantsJSON(r) {
		if !isEdit {
			return err
		}
		writeJSON(w, httpapi.StatusOf(err), map[string]string{"error": approval.ErrorMessage(err), "field": "params"})
		return nil
	}
	if code == approval.CodeNotFound || code == approval.CodeInternal {
		return err
	}
	pg, perr := d.requestPage(r, v)
	if perr != nil {
		return err
	}
	pg.Reason, pg.Decision, pg.Grant, pg.GrantUses = in.Reason, string(in.Decision), af.Grant, af.GrantUses
	if af.Params != "" {
		pg.ParamsText = af.Params
		pg.EditRows = editRows(af.Params)
		pg.EditOpen = true
	}
	if isEdit {
		pg.EditError = approval.ErrorMessage(err)
	} else {
		pg.Error = approval.ErrorMessage(err)
	}
	d.render(w, r, v, httpapi.StatusOf(err), "request", &Page{Title: pg.R.Action, Nav: "queue", Data: pg})
	return nil
}

// withVoteToast adds the toast of a recorded quorum vote: "Your approval
// is recorded (1 of 2)".
func withVoteToast(p string, votes, required int) string {
	u, err := url.Parse(withToast(p, "voted"))
	if err != nil {
		return withToast("/", "voted")
	}
	q := u.Query()
	q.Set("votes", strconv.Itoa(votes))
	q.Set("of", strconv.Itoa(required))
	u.RawQuery = q.Encode()
	return u.String()
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
