// Package remote is the MCP tools' and gateway's Backend on AgentGate's
// HTTP API, through the public Go SDK: what `agentgate mcp` and
// `agentgate mcp proxy` use. (It is its own package because the server,
// which serves /mcp with the in-process backend, must not import the SDK:
// the SDK's tests run the server.)
package remote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/mcp"
)

// Backend is an mcp.Backend on AgentGate's HTTP API.
type Backend struct {
	C *client.Client
}

var _ mcp.Backend = (*Backend)(nil)

// Request implements mcp.Backend.
func (b *Backend) Request(ctx context.Context, in mcp.Ask) (*mcp.Request, error) {
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

// Get implements mcp.Backend.
func (b *Backend) Get(ctx context.Context, id string) (*mcp.Request, error) {
	r, err := b.C.Get(ctx, id)
	if err != nil {
		return nil, clientError(err)
	}
	return fromClient(r), nil
}

// List implements mcp.Backend.
func (b *Backend) List(ctx context.Context, status string, limit int) ([]*mcp.Request, int64, error) {
	page, err := b.C.ListPage(ctx, client.ListOptions{Status: client.Status(status), Limit: limit})
	if err != nil {
		return nil, 0, clientError(err)
	}
	out := make([]*mcp.Request, len(page.Requests))
	for i, r := range page.Requests {
		out[i] = fromClient(r)
	}
	return out, page.Page.Total, nil
}

// Wait implements mcp.Backend with the SDK's long-poll, which rides out
// dropped connections and restarts until d has passed.
func (b *Backend) Wait(ctx context.Context, id string, d time.Duration) (*mcp.Request, error) {
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

// clientError sorts an SDK error into mcp.Backend's error classes.
func clientError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var class error
	switch {
	case errors.Is(err, client.ErrUnreachable), errors.Is(err, client.ErrUnavailable):
		class = mcp.ErrUnavailable
	case errors.Is(err, client.ErrNotFound):
		class = mcp.ErrNotFound
	case errors.Is(err, client.ErrUnauthorized), errors.Is(err, client.ErrForbidden):
		class = mcp.ErrForbidden
	case errors.Is(err, client.ErrInvalid):
		class = mcp.ErrInvalid
	}
	if apiErr, ok := errors.AsType[*client.APIError](err); ok {
		if class == nil && apiErr.StatusCode >= 500 {
			class = mcp.ErrUnavailable
		}
		// The server's own message, without the SDK's method and path.
		if apiErr.Message != "" {
			return mcp.NewError(class, fmt.Sprintf("AgentGate answered %d: %s", apiErr.StatusCode, apiErr.Message), err)
		}
	}
	return mcp.NewError(class, err.Error(), err)
}

func fromClient(r *client.Request) *mcp.Request {
	return &mcp.Request{
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
