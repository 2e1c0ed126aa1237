package dashboard

import (
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
)

// requestView is a request as cards, rows and the live stream show it.
// The live stream sends it as JSON and the script fills a copy of the
// server's card template from it, with textContent only.
type requestView struct {
	ID             string   `json:"id"`
	Action         string   `json:"action"`
	Urgency        string   `json:"urgency"`
	Rank           int      `json:"rank"`
	Status         string   `json:"status"`
	Agent          string   `json:"agent"`
	AgentID        string   `json:"agentId"`
	Created        string   `json:"created"` // RFC 3339, for the script
	CreatedAgo     string   `json:"createdAgo"`
	Expires        string   `json:"expires"` // RFC 3339 or ""
	ExpiresIn      string   `json:"expiresIn"`
	Summary        []kv     `json:"summary"`
	More           int      `json:"more"`
	Reason         string   `json:"reason"`
	RequireReason  bool     `json:"requireReason"`
	Approvers      []string `json:"approvers,omitempty"`
	PolicyName     string   `json:"policyName,omitempty"`
	DecidedBy      string   `json:"decidedBy,omitempty"`
	DecidedByType  string   `json:"decidedByType,omitempty"`
	DecisionReason string   `json:"decisionReason,omitempty"`
	Decided        string   `json:"decided,omitempty"`
	// Votes and Required count approvals on quorum rules (Required > 1).
	Votes    int `json:"votes"`
	Required int `json:"required"`
	// Blocker says why the signed-in key may not decide ("" when it may).
	Blocker string `json:"blocker,omitempty"`

	req *approval.Request
}

func rfc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// newRequestView builds the view of r for the signed-in principal p (nil
// when the view goes to many people, as on the live stream).
func newRequestView(r *approval.Request, p *auth.Principal, now time.Time) *requestView {
	v := &requestView{
		ID:             r.ID,
		Action:         r.Action,
		Urgency:        string(r.Urgency),
		Rank:           r.Urgency.Rank(),
		Status:         string(r.Status),
		Agent:          cmpOr(r.AgentName, r.AgentID),
		AgentID:        r.AgentID,
		Created:        rfc(r.CreatedAt),
		CreatedAgo:     ago(now, r.CreatedAt),
		Expires:        rfc(r.ExpiresAt),
		ExpiresIn:      until(now, r.ExpiresAt),
		Reason:         r.PolicyDecision.Reason,
		RequireReason:  r.PolicyDecision.RequireReason,
		Approvers:      r.PolicyDecision.Approvers,
		PolicyName:     r.PolicyDecision.PolicyName,
		DecidedBy:      cmpOr(r.DecidedByLabel, r.DecidedBy),
		DecidedByType:  string(r.DecidedByType),
		DecisionReason: r.DecisionReason,
		Decided:        rfc(r.DecidedAt),
		Votes:          r.ApprovalVotes,
		Required:       r.RequiredApprovals(),
		req:            r,
	}
	v.Summary, v.More = summarize(r.Params)
	if p != nil {
		v.Blocker = blocker(r, p)
	}
	return v
}

// blocker says why p may not decide r when that is certain: the key that
// asked cannot decide. The rule's approvers (names, ids or groups) are
// shown on the request's page and checked by the service.
func blocker(r *approval.Request, p *auth.Principal) string {
	if p.KeyID == r.AgentID {
		return "This request was created with your API key, and the key that asks cannot approve its own request."
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Pending reports whether the request still waits for a decision.
func (v *requestView) Pending() bool { return v.Status == string(approval.StatusPending) }

// CreatedAt and ExpiresAt are the times for absolute display.
func (v *requestView) CreatedAt() time.Time { return v.req.CreatedAt }
func (v *requestView) ExpiresAt() time.Time { return v.req.ExpiresAt }
func (v *requestView) DecidedAt() time.Time { return v.req.DecidedAt }
