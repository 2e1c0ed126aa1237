package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Grant is a time-boxed auto-approval created with an approval.
type Grant struct {
	ID         string         `json:"id"`
	AgentID    string         `json:"agentId"`
	Action     string         `json:"action"`
	Conditions map[string]any `json:"conditions"`
	ExpiresAt  time.Time      `json:"expiresAt"`
	MaxUses    *int           `json:"maxUses"`
	Uses       int            `json:"uses"`
	RequestID  string         `json:"requestId"`
	CreatedBy  string         `json:"createdBy"`
	CreatedAt  time.Time      `json:"createdAt"`
	RevokedAt  *time.Time     `json:"revokedAt"`
	RevokedBy  *string        `json:"revokedBy"`
	Active     bool           `json:"active"`
}

// GrantListOptions filter ListGrants.
type GrantListOptions struct {
	AgentID    string
	Action     string
	ActiveOnly bool
	Limit      int // 1..100; 0 means the server's default (50)
	Offset     int
}

// ListGrants lists grants, newest first (request:read).
func (c *Client) ListGrants(ctx context.Context, o GrantListOptions) ([]Grant, error) {
	q := url.Values{}
	if o.AgentID != "" {
		q.Set("agentId", o.AgentID)
	}
	if o.Action != "" {
		q.Set("action", o.Action)
	}
	if o.ActiveOnly {
		q.Set("active", "true")
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	var out struct {
		Grants []Grant `json:"grants"`
	}
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/grants", query: q, retrySafe: true}, &out); err != nil {
		return nil, err
	}
	return out.Grants, nil
}

// RevokeGrant ends grant id at once (request:decide).
func (c *Client) RevokeGrant(ctx context.Context, id string) (*Grant, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty grant id", ErrInvalid)
	}
	var g Grant
	if err := c.do(ctx, &call{method: http.MethodDelete, path: "/api/grants/" + escape(id), retrySafe: true}, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// Group is a named set of approver identities ("group:NAME" in rules).
type Group struct {
	Name      string    `json:"name"`
	Members   []string  `json:"members"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ListGroups lists the approver groups (admin).
func (c *Client) ListGroups(ctx context.Context) ([]Group, error) {
	var out struct {
		Groups []Group `json:"groups"`
	}
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/groups", retrySafe: true}, &out); err != nil {
		return nil, err
	}
	return out.Groups, nil
}

// SaveGroup creates or replaces group name (admin).
func (c *Client) SaveGroup(ctx context.Context, name string, members []string) (*Group, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty group name", ErrInvalid)
	}
	body, err := encodeBody(map[string]any{"members": members})
	if err != nil {
		return nil, err
	}
	var g Group
	if err := c.do(ctx, &call{method: http.MethodPut, path: "/api/groups/" + escape(name), body: body, retrySafe: true}, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// DeleteGroup removes group name (admin).
func (c *Client) DeleteGroup(ctx context.Context, name string) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/api/groups/" + escape(name), retrySafe: true}, nil)
}

// BatchResult is the outcome of one decision of DecideBatch.
type BatchResult struct {
	ID      string   `json:"id"`
	OK      bool     `json:"ok"`
	Status  int      `json:"status"` // the HTTP status this decision alone would have had
	Error   string   `json:"error,omitempty"`
	Request *Request `json:"request,omitempty"`
}

// DecideBatch decides many requests in one call; each is decided and
// audited on its own and may fail on its own (see each result). Edited
// params and grants are not allowed in a batch.
func (c *Client) DecideBatch(ctx context.Context, ids []string, in DecideInput) ([]BatchResult, error) {
	if in.Params != nil || in.Grant != nil {
		return nil, fmt.Errorf("%w: a batch decision cannot edit params or create grants", ErrInvalid)
	}
	body, err := encodeBody(map[string]any{"ids": ids, "decision": in.Decision, "reason": in.Reason, "decidedBy": in.Label})
	if err != nil {
		return nil, err
	}
	var out struct {
		Results []BatchResult `json:"results"`
	}
	// Safe to retry: a decision already recorded comes back as a 409 result.
	if err := c.do(ctx, &call{method: http.MethodPost, path: "/api/requests/decide-batch", body: body, retrySafe: true}, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}
