// Package wire holds the JSON shapes of the API: the REST answers, the
// event stream, webhook payloads and the dashboard's data all render
// requests the same way.
package wire

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/policy"
)

// Time is a wire time: RFC 3339 with milliseconds in UTC; the zero time
// is null.
type Time time.Time

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + tt.UTC().Format(approval.TimeFormat) + `"`), nil
}

// Agent is the identity that created a request.
type Agent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Request is the wire form of an approval request (upstream-compatible
// field names; the extra fields are additions).
type Request struct {
	ID             string                  `json:"id"`
	Action         string                  `json:"action"`
	Params         json.RawMessage         `json:"params"`
	Context        json.RawMessage         `json:"context"`
	Status         approval.Status         `json:"status"`
	Urgency        approval.Urgency        `json:"urgency"`
	CreatedAt      Time                    `json:"createdAt"`
	UpdatedAt      Time                    `json:"updatedAt"`
	DecidedAt      Time                    `json:"decidedAt"`
	DecidedBy      *string                 `json:"decidedBy"`
	DecidedByID    *string                 `json:"decidedById"`
	DecidedByType  *string                 `json:"decidedByType"`
	DecidedByLabel *string                 `json:"decidedByLabel,omitempty"`
	DecisionReason *string                 `json:"decisionReason"`
	ExpiresAt      Time                    `json:"expiresAt"`
	SLARemainingMs *int64                  `json:"slaRemainingMs"`
	PolicyDecision approval.PolicyDecision `json:"policyDecision"`
	Agent          Agent                   `json:"agent"`
	// ApprovedParams are the params an approver edited and approved; the
	// agent must act on these instead of its own. Null when not edited.
	ApprovedParams  json.RawMessage `json:"approvedParams"`
	Approvals       *Approvals      `json:"approvals,omitempty"`
	EscalationLevel int             `json:"escalationLevel,omitempty"`
	GrantID         *string         `json:"grantId,omitempty"`
}

// Approvals is a quorum's progress.
type Approvals struct {
	Required int `json:"required"`
	Received int `json:"received"`
}

// StrPtr returns nil for "" and a pointer to s otherwise.
func StrPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ToRequest converts a domain request to its wire form.
func ToRequest(r *approval.Request, now time.Time) Request {
	out := Request{
		ID:             r.ID,
		Action:         r.Action,
		Params:         r.Params,
		Context:        r.Context,
		Status:         r.Status,
		Urgency:        r.Urgency,
		CreatedAt:      Time(r.CreatedAt),
		UpdatedAt:      Time(r.UpdatedAt),
		DecidedAt:      Time(r.DecidedAt),
		DecidedBy:      StrPtr(r.DecidedBy),
		DecidedByID:    StrPtr(r.DecidedByID),
		DecidedByType:  StrPtr(string(r.DecidedByType)),
		DecidedByLabel: StrPtr(r.DecidedByLabel),
		DecisionReason: StrPtr(r.DecisionReason),
		ExpiresAt:      Time(r.ExpiresAt),
		PolicyDecision: r.PolicyDecision,
		Agent:          Agent{ID: r.AgentID, Name: r.AgentName},
	}
	if len(out.Params) == 0 {
		out.Params = json.RawMessage(`{}`)
	}
	if len(out.Context) == 0 {
		out.Context = json.RawMessage(`{}`)
	}
	if len(r.ApprovedParams) > 0 {
		out.ApprovedParams = r.ApprovedParams
	} else {
		out.ApprovedParams = json.RawMessage("null")
	}
	if n := r.RequiredApprovals(); n > 1 {
		out.Approvals = &Approvals{Required: n, Received: r.ApprovalVotes}
	}
	out.EscalationLevel = r.EscalationLevel
	out.GrantID = StrPtr(r.GrantID)
	if r.Status == approval.StatusPending && !r.ExpiresAt.IsZero() {
		ms := r.ExpiresAt.Sub(now).Milliseconds()
		out.SLARemainingMs = &ms
	}
	return out
}

// Pagination is the upstream's page envelope.
type Pagination struct {
	Total   int64 `json:"total"`
	Limit   int   `json:"limit"`
	Offset  int   `json:"offset"`
	HasMore bool  `json:"hasMore"`
}

// Page returns the pagination envelope of one page.
func Page(total int64, limit, offset int) Pagination {
	return Pagination{Total: total, Limit: limit, Offset: offset, HasMore: int64(offset+limit) < total}
}

// RequestList is the body of GET /api/requests.
type RequestList struct {
	Requests   []Request  `json:"requests"`
	Pagination Pagination `json:"pagination"`
}

// AuditEvent is the wire form of an audit event.
type AuditEvent struct {
	ID        string             `json:"id"`
	RequestID *string            `json:"requestId"`
	EventType string             `json:"eventType"`
	Actor     string             `json:"actor"`
	ActorID   string             `json:"actorId"`
	ActorType approval.ActorType `json:"actorType"`
	Details   json.RawMessage    `json:"details"`
	CreatedAt Time               `json:"createdAt"`
	Seq       *int64             `json:"seq,omitempty"`
	Hash      string             `json:"hash,omitempty"`
	Request   *RequestSummary    `json:"request,omitempty"`
}

// RequestSummary is the request shown next to an audit entry.
type RequestSummary struct {
	ID      string           `json:"id"`
	Action  string           `json:"action"`
	Status  approval.Status  `json:"status"`
	Urgency approval.Urgency `json:"urgency"`
}

// ToAuditEvent converts a domain audit event.
func ToAuditEvent(e *approval.AuditEvent) AuditEvent {
	out := AuditEvent{
		ID:        strconv.FormatInt(e.ID, 10),
		RequestID: StrPtr(e.RequestID),
		EventType: e.EventType,
		Actor:     e.Actor,
		ActorID:   e.ActorID,
		ActorType: e.ActorType,
		Details:   e.Details,
		CreatedAt: Time(e.CreatedAt),
		Hash:      e.Hash,
	}
	if e.Seq > 0 {
		seq := e.Seq
		out.Seq = &seq
	}
	if len(out.Details) == 0 {
		out.Details = json.RawMessage(`{}`)
	}
	if e.Request != nil {
		out.Request = &RequestSummary{ID: e.Request.ID, Action: e.Request.Action, Status: e.Request.Status, Urgency: e.Request.Urgency}
	}
	return out
}

// AuditList is the body of GET /api/audit.
type AuditList struct {
	Entries    []AuditEvent `json:"entries"`
	Pagination Pagination   `json:"pagination"`
}

// Key is the wire form of an API key (never its plaintext or hash).
type Key struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	Prefix     string       `json:"prefix"`
	Scopes     []auth.Scope `json:"scopes"`
	RateLimit  *int         `json:"rateLimit"`
	CreatedAt  Time         `json:"createdAt"`
	CreatedBy  string       `json:"createdBy"`
	LastUsedAt Time         `json:"lastUsedAt"`
	RevokedAt  Time         `json:"revokedAt"`
	Active     bool         `json:"active"`
}

// ToKey converts a stored key.
func ToKey(k *auth.Key) Key {
	return Key{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, RateLimit: k.RateLimit,
		CreatedAt: Time(k.CreatedAt), CreatedBy: k.CreatedBy, LastUsedAt: Time(k.LastUsedAt),
		RevokedAt: Time(k.RevokedAt), Active: k.Active()}
}

// CreatedKey is the answer to a key creation: the only time the key is
// shown.
type CreatedKey struct {
	Key
	Secret  string `json:"key"`
	Message string `json:"message"`
}

// Policy is the wire form of a stored policy.
type Policy struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Priority  int           `json:"priority"`
	Enabled   bool          `json:"enabled"`
	Scope     policy.Scope  `json:"scope"`
	AgentIDs  []string      `json:"agentIds"`
	ToolIDs   []string      `json:"toolIds"`
	Rules     []policy.Rule `json:"rules"`
	Source    string        `json:"source"`
	CreatedAt Time          `json:"createdAt"`
	UpdatedAt Time          `json:"updatedAt"`
}

// ToPolicy converts a stored policy.
func ToPolicy(p *approval.StoredPolicy) Policy {
	out := Policy{ID: p.ID, Name: p.Name, Priority: p.Priority, Enabled: p.Enabled, Scope: p.Scope,
		AgentIDs: p.AgentIDs, ToolIDs: p.ToolIDs, Rules: p.Rules, Source: p.Source,
		CreatedAt: Time(p.CreatedAt), UpdatedAt: Time(p.UpdatedAt)}
	if out.Scope == "" {
		out.Scope = "global"
	}
	if out.AgentIDs == nil {
		out.AgentIDs = []string{}
	}
	if out.ToolIDs == nil {
		out.ToolIDs = []string{}
	}
	if out.Rules == nil {
		out.Rules = []policy.Rule{}
	}
	return out
}

// Simulation is the answer of POST /api/policies/simulate.
type Simulation struct {
	Total   int                `json:"total"`
	Current DecisionCounts     `json:"current"`
	Results DecisionCounts     `json:"results"` // the candidate's (upstream name)
	Changed int                `json:"changed"`
	Details []SimulatedRequest `json:"details"`
}

// DecisionCounts counts outcomes (upstream names).
type DecisionCounts struct {
	AutoApproved  int `json:"autoApproved"`
	AutoDenied    int `json:"autoDenied"`
	RoutedToHuman int `json:"routedToHuman"`
}

// SimulatedRequest is one replayed request.
type SimulatedRequest struct {
	RequestID         string                  `json:"requestId"`
	Action            string                  `json:"action"`
	CreatedAt         Time                    `json:"createdAt"`
	Status            approval.Status         `json:"status"`
	CurrentDecision   string                  `json:"currentDecision"`
	CandidateDecision string                  `json:"candidateDecision"`
	Changed           bool                    `json:"changed"`
	Current           approval.PolicyDecision `json:"current"`
	Candidate         approval.PolicyDecision `json:"candidate"`
}

// ToSimulation converts a simulation result.
func ToSimulation(r *approval.SimulateResult) Simulation {
	out := Simulation{Total: r.Total, Changed: r.Changed, Details: make([]SimulatedRequest, len(r.Requests)),
		Current: DecisionCounts(r.Current), Results: DecisionCounts(r.Candidate)}
	for i, q := range r.Requests {
		out.Details[i] = SimulatedRequest{RequestID: q.RequestID, Action: q.Action, CreatedAt: Time(q.CreatedAt), Status: q.Status,
			CurrentDecision: q.CurrentDecision.Decision, CandidateDecision: q.CandidateDecision.Decision, Changed: q.Changed,
			Current: q.CurrentDecision, Candidate: q.CandidateDecision}
	}
	return out
}

// Template is a built-in policy template.
type Template struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Category    string        `json:"category"`
	Priority    int           `json:"priority"`
	Rules       []policy.Rule `json:"rules"`
	Policy      policy.Policy `json:"policy"`
}

// ToTemplate converts a template.
func ToTemplate(t approval.Template) Template {
	return Template{ID: t.ID, Name: t.Name, Description: t.Description, Category: t.Category,
		Priority: t.Policy.Priority, Rules: t.Policy.Rules, Policy: t.Policy}
}

// ChainReport is the answer of GET /api/audit/verify.
type ChainReport struct {
	OK       bool          `json:"ok"`
	Checked  int64         `json:"checked"`
	HeadSeq  int64         `json:"headSeq"`
	HeadHash string        `json:"headHash"`
	Unsealed int64         `json:"unsealed"`
	Problem  *ChainProblem `json:"problem,omitempty"`
}

// ChainProblem locates a break in the audit chain.
type ChainProblem struct {
	Seq     int64  `json:"seq"`
	EventID string `json:"eventId,omitempty"`
	Reason  string `json:"reason"`
}

// ToChainReport converts a verification report.
func ToChainReport(r *approval.ChainReport) ChainReport {
	out := ChainReport{OK: r.OK, Checked: r.Checked, HeadSeq: r.HeadSeq, HeadHash: r.HeadHash, Unsealed: r.Unsealed}
	if p := r.Problem; p != nil {
		out.Problem = &ChainProblem{Seq: p.Seq, Reason: p.Reason}
		if p.EventID != 0 {
			out.Problem.EventID = strconv.FormatInt(p.EventID, 10)
		}
	}
	return out
}

// Grant is the wire form of a time-boxed grant.
type Grant struct {
	ID         string         `json:"id"`
	AgentID    string         `json:"agentId"`
	Action     string         `json:"action"`
	Conditions map[string]any `json:"conditions"`
	ExpiresAt  Time           `json:"expiresAt"`
	MaxUses    *int           `json:"maxUses"`
	Uses       int            `json:"uses"`
	RequestID  string         `json:"requestId"`
	CreatedBy  string         `json:"createdBy"`
	CreatedAt  Time           `json:"createdAt"`
	RevokedAt  Time           `json:"revokedAt"`
	RevokedBy  *string        `json:"revokedBy"`
	Active     bool           `json:"active"`
}

// ToGrant converts a grant as of now.
func ToGrant(g *approval.Grant, now time.Time) Grant {
	return Grant{ID: g.ID, AgentID: g.AgentID, Action: g.Action, Conditions: g.Conditions, ExpiresAt: Time(g.ExpiresAt),
		MaxUses: g.MaxUses, Uses: g.Uses, RequestID: g.RequestID, CreatedBy: g.CreatedBy, CreatedAt: Time(g.CreatedAt),
		RevokedAt: Time(g.RevokedAt), RevokedBy: StrPtr(g.RevokedBy), Active: g.Active(now)}
}

// Group is the wire form of an approver group.
type Group struct {
	Name      string   `json:"name"`
	Members   []string `json:"members"`
	Source    string   `json:"source"`
	CreatedAt Time     `json:"createdAt"`
	UpdatedAt Time     `json:"updatedAt"`
}

// ToGroup converts a group.
func ToGroup(g *approval.Group) Group {
	return Group{Name: g.Name, Members: g.Members, Source: g.Source, CreatedAt: Time(g.CreatedAt), UpdatedAt: Time(g.UpdatedAt)}
}

// BatchResult is one entry of a batch decision's answer.
type BatchResult struct {
	ID      string   `json:"id"`
	OK      bool     `json:"ok"`
	Status  int      `json:"status"`
	Error   string   `json:"error,omitempty"`
	Request *Request `json:"request,omitempty"`
}
