package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Status is the state of a request. A request starts pending and changes
// state exactly once.
type Status string

// Request statuses.
const (
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusDenied   Status = "denied"
	StatusExpired  Status = "expired" // no decision before the request's expiry
)

// Final reports whether s is a final state: anything but pending.
func (s Status) Final() bool { return s != StatusPending }

// Urgency tells approvers how soon a request needs them.
type Urgency string

// Urgency levels, least urgent first. The server uses UrgencyNormal when
// none is given.
const (
	UrgencyLow      Urgency = "low"
	UrgencyNormal   Urgency = "normal"
	UrgencyHigh     Urgency = "high"
	UrgencyCritical Urgency = "critical"
)

// ActorType says what kind of party decided a request.
type ActorType string

// Actor types.
const (
	ActorPolicy ActorType = "policy" // a policy rule decided at creation
	ActorHuman  ActorType = "human"  // a person: API key, dashboard, Slack, ...
	ActorSystem ActorType = "system" // expiry and other automatic transitions
	ActorAgent  ActorType = "agent"  // the requesting agent (audit events only)
)

// Outcomes of the policy engine, in PolicyDecision.Decision and
// Rule.Decision.
const (
	DecisionAutoApprove  = "auto_approve"
	DecisionAutoDeny     = "auto_deny"
	DecisionRouteToHuman = "route_to_human"
)

// Scope grants a family of operations to an API key. ScopeAdmin implies
// every other scope.
type Scope string

// Scopes.
const (
	ScopeAdmin         Scope = "admin"
	ScopeRequestCreate Scope = "request:create"
	ScopeRequestRead   Scope = "request:read"
	ScopeRequestDecide Scope = "request:decide"
	ScopeWebhookManage Scope = "webhook:manage"
)

// Agent is the identity (API key) that created a request.
type Agent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// PolicyDecision explains how the policy engine routed a request.
type PolicyDecision struct {
	// Decision is DecisionAutoApprove, DecisionAutoDeny or
	// DecisionRouteToHuman.
	Decision   string `json:"decision"`
	PolicyID   string `json:"policyId,omitempty"`   // "" when no policy matched
	PolicyName string `json:"policyName,omitempty"` // "" when no policy matched
	// RuleIndex is the index of the matching rule in its policy; nil when
	// no rule matched.
	RuleIndex     *int             `json:"ruleIndex"`
	Reason        string           `json:"reason"`
	Approvers     []string         `json:"approvers,omitempty"` // who may decide; empty means anyone with request:decide
	Channels      []string         `json:"channels,omitempty"`
	RequireReason bool             `json:"requireReason,omitempty"` // deciders must give a reason
	OnTimeout     string           `json:"onTimeout,omitempty"`     // approve, deny or "" (expire)
	Approvals     *Quorum          `json:"approvals,omitempty"`     // the rule's quorum, if any
	Escalate      []EscalationStep `json:"escalate,omitempty"`
}

// Quorum is a rule's requirement of several distinct approvals.
type Quorum struct {
	Required int      `json:"required"`
	From     []string `json:"from,omitempty"`
}

// EscalationStep notifies To after After without a decision.
type EscalationStep struct {
	After string   `json:"after"` // a Go duration, e.g. "15m0s"
	To    []string `json:"to"`
}

// Request is an approval request as the server reports it.
//
// Fields the server sends as null are zero values here: DecidedAt and
// ExpiresAt are the zero time, the DecidedBy* and DecisionReason strings are
// "" while the request is pending. SLARemaining is nil unless the request is
// pending and has an expiry.
//
// Params and Context are the JSON objects the agent sent, byte for byte
// (compacted), so large integers and exact decimals survive. Decode them
// with DecodeParams and DecodeContext, or ParamsMap and ContextMap.
type Request struct {
	ID             string
	Action         string
	Params         json.RawMessage
	Context        json.RawMessage
	Status         Status
	Urgency        Urgency
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DecidedAt      time.Time // zero while pending
	DecidedBy      string    // display name of the decider: a key's name, "policy", "system"
	DecidedByID    string    // the decider's identity: key id, policy id, "system", "slack:U1"
	DecidedByType  ActorType
	DecidedByLabel string // a label the decider supplied; display only, never authenticated
	DecisionReason string
	ExpiresAt      time.Time      // zero means the request never expires
	SLARemaining   *time.Duration // time left before expiry, as of the server's answer
	PolicyDecision PolicyDecision
	Agent          Agent
	// ApprovedParams are the params an approver edited and approved; nil
	// when not edited. An agent must act on ActionParams(), which picks
	// these when present.
	ApprovedParams json.RawMessage
	// Approvals is a quorum's progress (nil unless the rule needs several
	// approvals).
	Approvals *Approvals
	// EscalationLevel counts the escalation steps that fired.
	EscalationLevel int
	// GrantID names the time-boxed grant that approved the request, if any.
	GrantID string
}

// Approvals is a quorum's progress.
type Approvals struct {
	Required int `json:"required"`
	Received int `json:"received"`
}

// ActionParams returns the params the agent must act on: the approver's
// edited params when there are any, else the params it asked with.
func (r *Request) ActionParams() json.RawMessage {
	if len(r.ApprovedParams) > 0 && string(r.ApprovedParams) != "null" {
		return r.ApprovedParams
	}
	return r.Params
}

// Approved reports whether the request was approved. Anything else
// (pending, denied, expired) means the agent must not act: this is the one
// check an agent needs before it acts.
func (r *Request) Approved() bool { return r != nil && r.Status == StatusApproved }

// DecodeParams decodes Params into v (a pointer to a struct or map).
func (r *Request) DecodeParams(v any) error { return decodeRaw(r.Params, v) }

// DecodeContext decodes Context into v (a pointer to a struct or map).
func (r *Request) DecodeContext(v any) error { return decodeRaw(r.Context, v) }

// ParamsMap returns Params as a map. Numbers are json.Number values, so
// no precision is lost.
func (r *Request) ParamsMap() (map[string]any, error) { return rawMap(r.Params) }

// ContextMap returns Context as a map, numbers as json.Number.
func (r *Request) ContextMap() (map[string]any, error) { return rawMap(r.Context) }

func decodeRaw(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		raw = json.RawMessage(`{}`)
	}
	return json.Unmarshal(raw, v)
}

func rawMap(raw json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if len(raw) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil { // the JSON was null
		m = map[string]any{}
	}
	return m, nil
}

// wireRequest is the JSON form of a request (nullable fields are pointers).
type wireRequest struct {
	ID             string          `json:"id"`
	Action         string          `json:"action"`
	Params         json.RawMessage `json:"params"`
	Context        json.RawMessage `json:"context"`
	Status         Status          `json:"status"`
	Urgency        Urgency         `json:"urgency"`
	CreatedAt      *time.Time      `json:"createdAt"`
	UpdatedAt      *time.Time      `json:"updatedAt"`
	DecidedAt      *time.Time      `json:"decidedAt"`
	DecidedBy      *string         `json:"decidedBy"`
	DecidedByID    *string         `json:"decidedById"`
	DecidedByType  *ActorType      `json:"decidedByType"`
	DecidedByLabel *string         `json:"decidedByLabel,omitempty"`
	DecisionReason *string         `json:"decisionReason"`
	ExpiresAt      *time.Time      `json:"expiresAt"`
	SLARemainingMs *int64          `json:"slaRemainingMs"`
	PolicyDecision PolicyDecision  `json:"policyDecision"`
	Agent          Agent           `json:"agent"`
	ApprovedParams json.RawMessage `json:"approvedParams"`
	Approvals      *Approvals      `json:"approvals,omitempty"`
	EscalationLvl  int             `json:"escalationLevel,omitempty"`
	GrantID        *string         `json:"grantId,omitempty"`
}

// UnmarshalJSON decodes the wire form of a request.
func (r *Request) UnmarshalJSON(b []byte) error {
	var w wireRequest
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Request{
		ID:              w.ID,
		Action:          w.Action,
		Params:          w.Params,
		Context:         w.Context,
		Status:          w.Status,
		Urgency:         w.Urgency,
		CreatedAt:       deref(w.CreatedAt),
		UpdatedAt:       deref(w.UpdatedAt),
		DecidedAt:       deref(w.DecidedAt),
		DecidedBy:       deref(w.DecidedBy),
		DecidedByID:     deref(w.DecidedByID),
		DecidedByType:   deref(w.DecidedByType),
		DecidedByLabel:  deref(w.DecidedByLabel),
		DecisionReason:  deref(w.DecisionReason),
		ExpiresAt:       deref(w.ExpiresAt),
		PolicyDecision:  w.PolicyDecision,
		Agent:           w.Agent,
		Approvals:       w.Approvals,
		EscalationLevel: w.EscalationLvl,
		GrantID:         deref(w.GrantID),
	}
	if len(w.ApprovedParams) > 0 && string(w.ApprovedParams) != "null" {
		r.ApprovedParams = w.ApprovedParams
	}
	if w.SLARemainingMs != nil {
		d := time.Duration(*w.SLARemainingMs) * time.Millisecond
		r.SLARemaining = &d
	}
	return nil
}

// MarshalJSON encodes r in the wire form, so a Request can be logged or
// stored and decoded again.
func (r Request) MarshalJSON() ([]byte, error) {
	w := wireRequest{
		ID:             r.ID,
		Action:         r.Action,
		Params:         nonEmptyObject(r.Params),
		Context:        nonEmptyObject(r.Context),
		Status:         r.Status,
		Urgency:        r.Urgency,
		CreatedAt:      timePtr(r.CreatedAt),
		UpdatedAt:      timePtr(r.UpdatedAt),
		DecidedAt:      timePtr(r.DecidedAt),
		DecidedBy:      strPtr(r.DecidedBy),
		DecidedByID:    strPtr(r.DecidedByID),
		DecidedByLabel: strPtr(r.DecidedByLabel),
		DecisionReason: strPtr(r.DecisionReason),
		ExpiresAt:      timePtr(r.ExpiresAt),
		PolicyDecision: r.PolicyDecision,
		Agent:          r.Agent,
		ApprovedParams: r.ApprovedParams,
		Approvals:      r.Approvals,
		EscalationLvl:  r.EscalationLevel,
		GrantID:        strPtr(r.GrantID),
	}
	if len(w.ApprovedParams) == 0 {
		w.ApprovedParams = json.RawMessage("null")
	}
	if r.DecidedByType != "" {
		t := r.DecidedByType
		w.DecidedByType = &t
	}
	if r.SLARemaining != nil {
		ms := r.SLARemaining.Milliseconds()
		w.SLARemainingMs = &ms
	}
	return json.Marshal(w)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonEmptyObject(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(`{}`)
	}
	return raw
}

// Page describes one page of a listing.
type Page struct {
	Total   int64 `json:"total"`   // matching items in all pages
	Limit   int   `json:"limit"`   // page size the server used
	Offset  int   `json:"offset"`  // index of the page's first item
	HasMore bool  `json:"hasMore"` // items exist after this page
}

// RequestPage is one page of requests.
type RequestPage struct {
	Requests []*Request `json:"requests"`
	Page     Page       `json:"pagination"`
}

// AuditEvent is one entry of the audit trail.
type AuditEvent struct {
	ID        string          `json:"id"`                  // decimal, increasing; also the SSE event id
	RequestID string          `json:"requestId,omitempty"` // "" for events not about a request (keys, policies)
	EventType string          `json:"eventType"`           // created, approved, denied, expired, key.created, policy.updated, ...
	Actor     string          `json:"actor"`               // display name
	ActorID   string          `json:"actorId"`             // identity: key id, policy id, "system"
	ActorType ActorType       `json:"actorType"`
	Details   json.RawMessage `json:"details"`
	CreatedAt time.Time       `json:"createdAt"`
	// Seq and Hash place the event in the tamper-evident hash chain; they
	// are zero until the server has sealed the event.
	Seq  int64  `json:"seq,omitempty"`
	Hash string `json:"hash,omitempty"`
	// Request summarises the request the event is about; only audit
	// listings (ListAudit) fill it.
	Request *RequestSummary `json:"request,omitempty"`
}

// RequestSummary is the part of a request shown next to audit entries.
type RequestSummary struct {
	ID      string  `json:"id"`
	Action  string  `json:"action"`
	Status  Status  `json:"status"`
	Urgency Urgency `json:"urgency"`
}

// AuditPage is one page of the audit log.
type AuditPage struct {
	Entries []*AuditEvent `json:"entries"`
	Page    Page          `json:"pagination"`
}

// Identity is the caller as the server sees it (GET /api/me).
type Identity struct {
	ID        string  `json:"id"`   // the API key's id
	Name      string  `json:"name"` // the API key's name
	Scopes    []Scope `json:"scopes"`
	RateLimit *int    `json:"rateLimit"` // requests per minute; nil means unlimited
	Via       string  `json:"via"`       // how the caller authenticated: "key" or "admin_env"
}

// Key is an API key as listed (never its secret).
type Key struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Prefix     string    `json:"prefix"` // the key's first characters, to recognise it
	Scopes     []Scope   `json:"scopes"`
	RateLimit  *int      `json:"rateLimit"` // requests per minute; nil means unlimited
	CreatedAt  time.Time `json:"createdAt"`
	CreatedBy  string    `json:"createdBy"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"` // zero when never used
	RevokedAt  time.Time `json:"revokedAt,omitzero"`  // zero while active
	Active     bool      `json:"active"`
}

// CreatedKey is a new API key with its secret, which the server shows only
// in this answer.
type CreatedKey struct {
	Key
	Secret string `json:"key"` // the full key, "agk_..."
}

// Duration is a rule timeout. It encodes as a Go duration string ("15m0s")
// and decodes from a duration string or a whole number of seconds.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("timeout %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("timeout must be a duration string or whole seconds, got %s", b)
	}
	*d = Duration(time.Duration(n) * time.Second)
	return nil
}

// Rule is one "if the request looks like this, decide that" entry of a
// policy. See the server's policy documentation for the matcher language
// of Match and the CEL condition When.
type Rule struct {
	Match         map[string]any `json:"match"`
	When          string         `json:"when,omitempty"`
	Decision      string         `json:"decision"` // DecisionAutoApprove, DecisionAutoDeny or DecisionRouteToHuman
	Approvers     []string       `json:"approvers,omitempty"`
	Channels      []string       `json:"channels,omitempty"`
	RequireReason bool           `json:"requireReason,omitempty"`
	Timeout       Duration       `json:"timeout,omitempty"`
	OnTimeout     string         `json:"onTimeout,omitempty"` // approve, deny or "" (expire)
}

// Policy is a stored policy.
type Policy struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Priority  int       `json:"priority"` // lower numbers are evaluated first
	Enabled   bool      `json:"enabled"`
	Scope     string    `json:"scope"` // global, per_agent or per_tool
	AgentIDs  []string  `json:"agentIds"`
	ToolIDs   []string  `json:"toolIds"`
	Rules     []Rule    `json:"rules"`
	Source    string    `json:"source"` // where the policy came from: api, file, ...
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// PolicyPage is one page of policies.
type PolicyPage struct {
	Policies []*Policy `json:"policies"`
	Page     Page      `json:"pagination"`
}

// DryRunResult is what the policies would decide for a request.
type DryRunResult struct {
	PolicyDecision
	Matched bool     `json:"matched"`          // a rule matched
	Errors  []string `json:"errors,omitempty"` // rule conditions that failed to evaluate
}

// Event is one event of the live stream (Events).
type Event struct {
	// ID is the event's id; pass it as EventsOptions.LastEventID to resume
	// a stream after it.
	ID string `json:"id"`
	// Type is EventRequestCreated, EventRequestDecided or
	// EventRequestExpired.
	Type string `json:"type"`
	// Request is the request's state at the time the event was sent.
	Request *Request `json:"request"`
}

// Event types of the live stream.
const (
	EventRequestCreated = "request.created"
	EventRequestDecided = "request.decided"
	EventRequestExpired = "request.expired"
)

// Health is the answer of GET /health.
type Health struct {
	Status  string `json:"status"` // "ok"
	Version string `json:"version"`
}
