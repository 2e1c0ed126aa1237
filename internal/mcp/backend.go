package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Backend is what the MCP tools and the gateway need from AgentGate. Two
// implementations exist: remote.Backend talks to the HTTP API through the
// public Go SDK (agentgate mcp, agentgate mcp proxy), ServiceBackend calls
// the approval service in process (the server's /mcp endpoint), so the
// tool logic is written once and the server needs no HTTP hop to itself.
//
// Errors wrap one of ErrUnavailable, ErrNotFound, ErrForbidden or
// ErrInvalid when they fall in those classes; their text is safe to show
// to the model.
type Backend interface {
	// Request asks for approval and returns the new request: pending, or
	// already approved or denied by a policy.
	Request(ctx context.Context, in Ask) (*Request, error)
	// Get returns request id.
	Get(ctx context.Context, id string) (*Request, error)
	// List returns up to limit requests (newest first), optionally only
	// those with status, and the total that match.
	List(ctx context.Context, status string, limit int) ([]*Request, int64, error)
	// Wait returns request id as soon as it is decided, or its current,
	// still pending state once d has passed.
	Wait(ctx context.Context, id string, d time.Duration) (*Request, error)
}

// Ask is one request for approval.
type Ask struct {
	Action  string
	Params  json.RawMessage // a JSON object, or nil for {}
	Context json.RawMessage // a JSON object, or nil for {}
	Urgency string          // "" means normal
}

// Request is the part of an AgentGate request the tools report.
type Request struct {
	ID      string
	Action  string
	Status  string // pending, approved, denied, expired
	Urgency string
	Params  json.RawMessage
	// ApprovedParams are the params as an approver edited and approved
	// them; nil when nobody edited them (or the server cannot).
	ApprovedParams json.RawMessage
	DecidedBy      string // display name: a key's name, "policy", "system"
	DecidedByType  string // human, policy, system
	DecisionReason string
	PolicyDecision string // auto_approve, auto_deny, route_to_human
	PolicyReason   string
	CreatedAt      time.Time
	DecidedAt      time.Time // zero while pending
	ExpiresAt      time.Time // zero when it never expires
}

// Request statuses.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusDenied   = "denied"
	StatusExpired  = "expired"
)

// EffectiveParams returns the params to act with: the approver's edited
// params when there are any, else the params that were asked for.
func (r *Request) EffectiveParams() json.RawMessage {
	if len(r.ApprovedParams) > 0 {
		return r.ApprovedParams
	}
	return r.Params
}

// Error classes of Backend errors.
var (
	// ErrUnavailable means AgentGate could not be asked: no connection, a
	// timeout, or a 5xx answer. The gateway fails closed on it (or open
	// with --fail-open).
	ErrUnavailable = errors.New("AgentGate is unavailable")
	ErrNotFound    = errors.New("no such request")
	ErrForbidden   = errors.New("not allowed")
	ErrInvalid     = errors.New("invalid input")
)

// classedError carries a message that is safe to show, its class, and
// the cause (for logs).
type classedError struct {
	class error
	msg   string
	cause error
}

func (e *classedError) Error() string        { return e.msg }
func (e *classedError) Unwrap() error        { return e.cause }
func (e *classedError) Is(target error) bool { return target == e.class }

func newError(class error, msg string) error { return &classedError{class: class, msg: msg} }

// NewError returns an error of class (ErrUnavailable, ErrNotFound, ...,
// or nil for none) whose text is msg, safe to show to the model, and
// which wraps cause for logs. Backends use it.
func NewError(class error, msg string, cause error) error {
	return &classedError{class: class, msg: msg, cause: cause}
}
