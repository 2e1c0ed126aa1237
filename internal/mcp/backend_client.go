package mcp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/client"
)

// ClientBackend is a Backend on AgentGate's HTTP API, through the Go SDK.
type ClientBackend struct {
	C *client.Client
}

var _ Backend = (*ClientBackend)(nil)

// Request implements Backend.
func (b *ClientBackend) Request(ctx context.Context, in Ask) (*Request, error) {
	in2 := client.RequestInput{Action: in.Action, Urgency: client.Urgency(in.Urgency)}
	// A nil json.RawMessage inside an interface is not nil: pass nil itself.
	if len(in.Params) > 0 {
		in2.Params = in.Params
	}
	if len(in.Context) > 0 {
		in2.Context = in.Context
	}
	r, err := b.C.Request(ctx, in2)
	if err != nil {
		return nil, clientError(err)
	}
	return fromClient(r), nil
}

// Get implements Backend.
func (b *ClientBackend) Get(ctx context.Context, id string) (*Request, error) {
	r, err := b.C.Get(ctx, id)
	if err != nil {
		return nil, clientError(err)
	}
	return fromClient(r), nil
}

// List implements Backend.
func (b *ClientBackend) List(ctx context.Context, status string, limit int) ([]*Request, int64, error) {
	page, err := b.C.ListPage(ctx, client.ListOptions{Status: client.Status(status), Limit: limit})
	if err != nil {
		return nil, 0, clientError(err)
	}
	out := make([]*Request, len(page.Requests))
	for i, r := range page.Requests {
		out[i] = fromClient(r)
	}
	return out, page.Page.Total, nil
}

// Wait implements Backend with the SDK's long-poll, which rides out
// dropped connections and restarts until d has passed.
func (b *ClientBackend) Wait(ctx context.Context, id string, d time.Duration) (*Request, error) {
	if d <= 0 {
		return b.Get(ctx, id)
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	r, err := b.C.Wait(wctx, id)
	switch {
	case err == nil:
		return fromClient(r), nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		// d has passed without a decision: report the current state.
		if r != nil {
			return fromClient(r), nil
		}
		return b.Get(ctx, id)
	}
	return nil, clientError(err)
}

// clientError sorts an SDK error into the Backend's classes.
func clientError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var class error
	switch {
	case errors.Is(err, client.ErrUnreachable), errors.Is(err, client.ErrUnavailable):
		class = ErrUnavailable
	case errors.Is(err, client.ErrNotFound):
		class = ErrNotFound
	case errors.Is(err, client.ErrUnauthorized), errors.Is(err, client.ErrForbidden):
		class = ErrForbidden
	case errors.Is(err, client.ErrInvalid):
		class = ErrInvalid
	}
	if apiErr, ok := errors.AsType[*client.APIError](err); ok {
		if class == nil && apiErr.StatusCode >= 500 {
			class = ErrUnavailable
		}
		// The server's own message, without the SDK's method and path.
		if apiErr.Message != "" {
			return &classedError{class: class, msg: fmt.Sprintf("AgentGate answered %d: %s", apiErr.StatusCode, apiErr.Message), cause: err}
		}
	}
	return &classedError{class: class, msg: err.Error(), cause: err}
}

func fromClient(r *client.Request) *Request {
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
