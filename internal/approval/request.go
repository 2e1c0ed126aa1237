package approval

import (
	"context"
	"encoding/json"

	"github.com/agentgate/agentgate/internal/policy"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is the state of a request. Only pending requests change state, and
// each change is a compare-and-set, so exactly one decision wins.
type Status string

// Request statuses.
const (
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusDenied   Status = "denied"
	StatusExpired  Status = "expired"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusApproved, StatusDenied, StatusExpired:
		return true
	}
	return false
}

// Urgency tells approvers how soon a request needs them.
type Urgency string

// Urgency levels, least urgent first.
const (
	UrgencyLow      Urgency = "low"
	UrgencyNormal   Urgency = "normal"
	UrgencyHigh     Urgency = "high"
	UrgencyCritical Urgency = "critical"
)

// Rank orders urgencies: critical is 4, low is 1, unknown is 0.
func (u Urgency) Rank() int {
	switch u {
	case UrgencyLow:
		return 1
	case UrgencyNormal:
		return 2
	case UrgencyHigh:
		return 3
	case UrgencyCritical:
		return 4
	}
	return 0
}

// ActorType says what kind of party made a decision.
type ActorType string

// Actor types.
const (
	ActorPolicy ActorType = "policy" // a policy rule decided at creation
	ActorHuman  ActorType = "human"  // a person (API key, dashboard, Slack, ...)
	ActorSystem ActorType = "system" // expiry and other automatic transitions
	ActorAgent  ActorType = "agent"  // the requesting agent (creation only)
	ActorGrant  ActorType = "grant"  // a time-boxed grant approved at creation
)

// Actor is an authenticated party acting through some channel.
type Actor struct {
	ID      string    // stable identity: key id, "slack:U123", "email:a@b.c"
	Name    string    // display name: the key's name, the Slack user's name
	Type    ActorType // human for deciders, agent for creators
	Channel string    // api, dashboard, cli, slack, discord, email, mcp, system
}

// Identities returns the names an approver allow-list may use for a: its
// id and its name. On chat and email channels only the id counts
// ("slack:U123", "email:a@b.c"): there the name is whatever the person
// chose as a display name, so a Slack user calling themselves "alice"
// must not pass for the API key named alice.
func (a Actor) Identities() []string {
	out := []string{a.ID}
	if a.Name != "" && a.Name != a.ID && !externalChannels[a.Channel] {
		out = append(out, a.Name)
	}
	return out
}

// externalChannels are the channels whose actor names are chosen by the
// people themselves, outside AgentGate.
var externalChannels = map[string]bool{"slack": true, "discord": true, "email": true}

// PolicyDecision explains how the policy engine routed a request.
type PolicyDecision struct {
	Decision      string   `json:"decision"`
	PolicyID      string   `json:"policyId,omitempty"`
	PolicyName    string   `json:"policyName,omitempty"`
	RuleIndex     *int     `json:"ruleIndex"`
	Reason        string   `json:"reason"`
	Approvers     []string `json:"approvers,omitempty"`
	Channels      []string `json:"channels,omitempty"`
	RequireReason bool     `json:"requireReason,omitempty"`
	OnTimeout     string   `json:"onTimeout,omitempty"`
	// Approvals and Escalate are the rule's quorum and escalation steps,
	// copied at creation so later policy edits do not change a request
	// already waiting.
	Approvals *policy.Quorum      `json:"approvals,omitempty"`
	Escalate  []policy.Escalation `json:"escalate,omitempty"`
}

// Scalar reports whether pd holds no lists and no quorum: copying it
// then shares no memory but RuleIndex, and its JSON is a fixed shape.
func (pd *PolicyDecision) Scalar() bool {
	return len(pd.Approvers) == 0 && len(pd.Channels) == 0 && pd.Approvals == nil && len(pd.Escalate) == 0
}

// Request is one action an agent asked to take.
type Request struct {
	ID             string
	Action         string
	Params         json.RawMessage // a JSON object, compacted
	Context        json.RawMessage // a JSON object, compacted
	Urgency        Urgency
	Status         Status
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DecidedAt      time.Time // zero while pending
	DecidedBy      string    // the deciding identity's display name
	DecidedByID    string    // the deciding identity's id (key id, slack:U1, ...)
	DecidedByType  ActorType
	DecidedByLabel string // a client-supplied display label, never used for authorization
	DecisionReason string
	ExpiresAt      time.Time // zero means never
	PolicyDecision PolicyDecision
	AgentID        string // the creating key's id
	AgentName      string // the creating key's name
	IdempotencyKey string
	RequestHash    string // hash of the creation input, for idempotent retries

	// ApprovedParams holds the params an approver approved when they edited
	// them (nil otherwise): the agent must act on these.
	ApprovedParams json.RawMessage
	// ApprovalVotes counts approving votes so far (quorum rules).
	ApprovalVotes int
	// EscalationLevel is how many escalation steps have fired.
	EscalationLevel int
	// GrantID names the grant that approved the request, if one did.
	GrantID string
}

// RequiredApprovals is how many distinct approvals r needs (1 unless its
// rule sets a quorum).
func (r *Request) RequiredApprovals() int {
	if q := r.PolicyDecision.Approvals; q != nil && q.Required > 1 {
		return q.Required
	}
	return 1
}

// Decided reports whether r has left the pending state.
func (r *Request) Decided() bool { return r.Status != StatusPending }

// CreateInput is what an agent sends to ask for approval.
type CreateInput struct {
	Action         string
	Params         map[string]any // decoded, for the policy engine
	Context        map[string]any
	RawParams      json.RawMessage // the original bytes, stored when set
	RawContext     json.RawMessage
	Urgency        Urgency
	ExpiresAt      time.Time // zero: use the rule's timeout or the default
	IdempotencyKey string
}

// Limits on creation input. They bound memory and storage per request.
const (
	MaxActionLength         = 256
	MaxIdempotencyKeyLength = 256
)

// Validate checks in and fills defaults. now is the server clock.
func (in *CreateInput) Validate(now time.Time) error {
	in.Action = strings.TrimSpace(in.Action)
	switch {
	case in.Action == "":
		return Errorf(CodeInvalid, "action is required and must be a non-empty string")
	case utf8.RuneCountInString(in.Action) > MaxActionLength:
		return Errorf(CodeInvalid, "action must be at most %d characters", MaxActionLength)
	case strings.ContainsFunc(in.Action, isControl):
		return Errorf(CodeInvalid, "action must not contain control characters")
	}
	if in.Urgency == "" {
		in.Urgency = UrgencyNormal
	}
	if in.Urgency.Rank() == 0 {
		return Errorf(CodeInvalid, "urgency must be one of low, normal, high, critical")
	}
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		return Errorf(CodeInvalid, "expiresAt must be in the future")
	}
	if in.Params == nil {
		in.Params = map[string]any{}
	}
	if in.Context == nil {
		in.Context = map[string]any{}
	}
	if len(in.IdempotencyKey) > MaxIdempotencyKeyLength {
		return Errorf(CodeInvalid, "Idempotency-Key must be at most %d characters", MaxIdempotencyKeyLength)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// DefaultMaxParamsKeys is the default bound on the keys of params and of
// context.
const DefaultMaxParamsKeys = 256

// CheckKeys returns CodeInvalid when params or context hold more than
// limit keys, counting the keys of nested objects (also inside arrays):
// the policy engine walks them, and the audit trail stores them.
func (in *CreateInput) CheckKeys(limit int) error {
	if countKeys(in.Params, limit) > limit {
		return Errorf(CodeInvalid, "params must hold at most %d keys, counting nested objects", limit)
	}
	if countKeys(in.Context, limit) > limit {
		return Errorf(CodeInvalid, "context must hold at most %d keys, counting nested objects", limit)
	}
	return nil
}

// countKeys counts object keys in a decoded JSON value, stopping once the
// count passes limit so that a huge value costs no more than limit steps.
func countKeys(v any, limit int) int {
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				if n++; n > limit {
					return
				}
				walk(e)
				if n > limit {
					return
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
				if n > limit {
					return
				}
			}
		}
	}
	walk(v)
	return n
}

// DecideInput is a human's decision on a pending request.
type DecideInput struct {
	Decision Status // StatusApproved or StatusDenied
	Reason   string
	Label    string // optional client-supplied "decidedBy" display label

	// Params, when set with an approval, are edited params: the agent must
	// act on these (Request.ApprovedParams). The policies are evaluated
	// again on the edited request and an edit they would deny is refused.
	Params    map[string]any
	RawParams json.RawMessage
	// Grant, with an approval, also approves the same agent's next requests
	// for the same action for a while.
	Grant *GrantInput

	// Claim, when set, runs inside the decision's transaction once the
	// decision is allowed (the request is pending, the decider may decide,
	// the reason rule is met) and before it is recorded. An error aborts
	// the decision. One-time credentials (email decision links) are spent
	// here, so a link is used exactly when its decision commits.
	Claim func(ctx context.Context, tx Tx, r *Request) error
}

// MaxReasonLength bounds decision reasons.
const MaxReasonLength = 4000

// Validate checks in.
func (in *DecideInput) Validate() error {
	if in.Decision != StatusApproved && in.Decision != StatusDenied {
		return Errorf(CodeInvalid, "decision must be 'approved' or 'denied'")
	}
	in.Reason = strings.TrimSpace(in.Reason)
	in.Label = strings.TrimSpace(in.Label)
	if utf8.RuneCountInString(in.Reason) > MaxReasonLength {
		return Errorf(CodeInvalid, "reason must be at most %d characters", MaxReasonLength)
	}
	if utf8.RuneCountInString(in.Label) > 256 {
		return Errorf(CodeInvalid, "decidedBy must be at most 256 characters")
	}
	if in.Decision != StatusApproved && (in.Params != nil || in.Grant != nil) {
		return Errorf(CodeInvalid, "params and grant go with decision 'approved' only")
	}
	if g := in.Grant; g != nil {
		if g.Duration <= 0 || g.Duration > MaxGrantDuration {
			return Errorf(CodeInvalid, "grant.duration must be between 1s and %s", MaxGrantDuration)
		}
		if g.MaxUses != nil && (*g.MaxUses < 1 || *g.MaxUses > MaxGrantUses) {
			return Errorf(CodeInvalid, "grant.maxUses must be between 1 and %d", MaxGrantUses)
		}
	}
	return nil
}

// Decision records one party's decision on a request.
type Decision struct {
	ID        string
	RequestID string
	Outcome   Status
	ActorID   string
	ActorName string
	ActorType ActorType
	Channel   string
	Label     string
	Reason    string
	CreatedAt time.Time
}

// Sort orders for listing requests.
const (
	SortNewest       = "newest"        // created_at desc (default)
	SortOldest       = "created_at"    // created_at asc (upstream name)
	SortUrgency      = "urgency"       // most urgent first, then oldest
	SortSLARemaining = "sla_remaining" // soonest expiry first
)

// SortOrders lists the accepted sort values.
var SortOrders = []string{SortNewest, SortOldest, SortUrgency, SortSLARemaining}

// RequestFilter selects requests to list.
type RequestFilter struct {
	Status    Status // empty: any
	Action    string // exact
	AgentID   string
	DecidedBy string
	From, To  time.Time // created_at range, zero means open
	Sort      string
	Limit     int
	Offset    int
}

// Validate checks f and fills defaults.
func (f *RequestFilter) Validate() error {
	if f.Status != "" && !f.Status.Valid() {
		return Errorf(CodeInvalid, "status must be one of pending, approved, denied, expired")
	}
	if f.Sort == "" {
		f.Sort = SortNewest
	}
	if !slices.Contains(SortOrders, f.Sort) {
		return Errorf(CodeInvalid, "sort must be one of %s", strings.Join(SortOrders, ", "))
	}
	return validatePage(&f.Limit, &f.Offset)
}

// Page size bounds shared by every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
	MaxOffset       = 1_000_000
)

func validatePage(limit, offset *int) error {
	if *limit == 0 {
		*limit = DefaultPageSize
	}
	if *limit < 1 || *limit > MaxPageSize {
		return Errorf(CodeInvalid, "limit must be between 1 and %d", MaxPageSize)
	}
	if *offset < 0 || *offset > MaxOffset {
		return Errorf(CodeInvalid, "offset must be between 0 and %d", MaxOffset)
	}
	return nil
}
