package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
)

// ServiceBackend is a Backend that calls the approval service in process,
// as the principal that authenticated the MCP HTTP request. It checks the
// same scopes as the REST API: request:create to ask, request:read to
// look at requests.
type ServiceBackend struct {
	Approvals *approval.Service
	// Principal acts; nil means the principal in each call's context
	// (auth.FromContext), as httpapi's authentication put it there. With
	// neither, every call is refused.
	Principal *auth.Principal
}

func (b *ServiceBackend) principal(ctx context.Context) *auth.Principal {
	if b.Principal != nil {
		return b.Principal
	}
	return auth.FromContext(ctx)
}

var _ Backend = (*ServiceBackend)(nil)

// Request implements Backend.
func (b *ServiceBackend) Request(ctx context.Context, in Ask) (*Request, error) {
	p, err := b.require(ctx, auth.ScopeRequestCreate)
	if err != nil {
		return nil, err
	}
	ci := approval.CreateInput{Action: in.Action, Urgency: approval.Urgency(in.Urgency)}
	if ci.Params, ci.RawParams, err = decodeObject("params", in.Params); err != nil {
		return nil, err
	}
	if ci.Context, ci.RawContext, err = decodeObject("context", in.Context); err != nil {
		return nil, err
	}
	r, _, err := b.Approvals.Create(ctx, p.Actor("mcp", approval.ActorAgent), ci)
	if err != nil {
		return nil, serviceError(err)
	}
	return fromService(r), nil
}

// Get implements Backend.
func (b *ServiceBackend) Get(ctx context.Context, id string) (*Request, error) {
	if _, err := b.require(ctx, auth.ScopeRequestRead); err != nil {
		return nil, err
	}
	r, err := b.Approvals.Get(ctx, id)
	if err != nil {
		return nil, serviceError(err)
	}
	return fromService(r), nil
}

// List implements Backend.
func (b *ServiceBackend) List(ctx context.Context, status string, limit int) ([]*Request, int64, error) {
	if _, err := b.require(ctx, auth.ScopeRequestRead); err != nil {
		return nil, 0, err
	}
	rs, total, err := b.Approvals.List(ctx, approval.RequestFilter{Status: approval.Status(status), Limit: limit})
	if err != nil {
		return nil, 0, serviceError(err)
	}
	out := make([]*Request, len(rs))
	for i, r := range rs {
		out[i] = fromService(r)
	}
	return out, total, nil
}

// Wait implements Backend on the service's Wait, which wakes on the
// event bus the moment the request is decided (on any replica).
func (b *ServiceBackend) Wait(ctx context.Context, id string, d time.Duration) (*Request, error) {
	if _, err := b.require(ctx, auth.ScopeRequestRead); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	r, err := b.Approvals.Wait(wctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, serviceError(err)
	}
	return fromService(r), nil
}

func (b *ServiceBackend) require(ctx context.Context, s auth.Scope) (*auth.Principal, error) {
	p := b.principal(ctx)
	if p == nil || !p.Has(s) {
		return nil, newError(ErrForbidden, fmt.Sprintf("this API key lacks the %q scope", s))
	}
	return p, nil
}

func decodeObject(name string, raw json.RawMessage) (map[string]any, json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, nil, newError(ErrInvalid, name+" must be a JSON object")
	}
	return m, raw, nil
}

// serviceError sorts a service error into the Backend's classes, keeping
// only its client-safe message.
func serviceError(err error) error {
	var class error
	switch approval.ErrorCode(err) {
	case approval.CodeNotFound:
		class = ErrNotFound
	case approval.CodeForbidden, approval.CodeUnauthenticated:
		class = ErrForbidden
	case approval.CodeInvalid, approval.CodeUnprocessable, approval.CodeTooLarge:
		class = ErrInvalid
	case approval.CodeUnavailable, approval.CodeInternal:
		class = ErrUnavailable
	}
	return &classedError{class: class, msg: approval.ErrorMessage(err), cause: err}
}

func fromService(r *approval.Request) *Request {
	return &Request{
		ID:             r.ID,
		Action:         r.Action,
		Status:         string(r.Status),
		Urgency:        string(r.Urgency),
		Params:         r.Params,
		ApprovedParams: r.ApprovedParams,
		DecidedBy:      r.DecidedBy,
		DecidedByType:  string(r.DecidedByType),
		DecisionReason: r.DecisionReason,
		PolicyDecision: r.PolicyDecision.Decision,
		PolicyReason:   r.PolicyDecision.Reason,
		CreatedAt:      r.CreatedAt,
		DecidedAt:      r.DecidedAt,
		ExpiresAt:      r.ExpiresAt,
	}
}
