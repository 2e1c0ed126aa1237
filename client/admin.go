package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// The calls in this file manage the server: they need a key with the
// admin scope, else they return ErrForbidden.

// KeyInput describes a new API key.
type KeyInput struct {
	Name   string  `json:"name"`
	Scopes []Scope `json:"scopes,omitempty"` // the server's default when empty
	// RateLimit is requests per minute; nil means unlimited.
	RateLimit *int `json:"rateLimit,omitempty"`
}

// CreateKey creates an API key. The returned Secret is shown only now:
// store it at once.
//
// CreateKey is not retried after a failure that may have reached the
// server (it would create a second key); check ListKeys before trying
// again.
//
// Errors: ErrInvalid (unknown scope, bad name), ErrForbidden.
func (c *Client) CreateKey(ctx context.Context, in KeyInput) (*CreatedKey, error) {
	body, err := encodeBody(in)
	if err != nil {
		return nil, err
	}
	var out CreatedKey
	if err := c.do(ctx, &call{method: http.MethodPost, path: "/api/keys", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListKeys returns every API key, revoked ones included (Active false).
func (c *Client) ListKeys(ctx context.Context) ([]*Key, error) {
	var out struct {
		Keys []*Key `json:"keys"`
	}
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/keys"}, &out); err != nil {
		return nil, err
	}
	return out.Keys, nil
}

// KeyPatch changes an API key; nil fields stay as they are.
type KeyPatch struct {
	Name   *string
	Scopes *[]Scope
	// RateLimit sets requests per minute; ClearRateLimit makes the key
	// unlimited.
	RateLimit      *int
	ClearRateLimit bool
}

// UpdateKey changes key id.
//
// Errors: ErrNotFound, ErrInvalid, ErrForbidden, ErrConflict (it would
// leave no active admin key).
func (c *Client) UpdateKey(ctx context.Context, id string, p KeyPatch) (*Key, error) {
	m := map[string]any{}
	if p.Name != nil {
		m["name"] = *p.Name
	}
	if p.Scopes != nil {
		m["scopes"] = *p.Scopes
	}
	if p.ClearRateLimit {
		m["rateLimit"] = nil
	} else if p.RateLimit != nil {
		m["rateLimit"] = *p.RateLimit
	}
	body, err := encodeBody(m)
	if err != nil {
		return nil, err
	}
	var k Key
	// A PATCH that sets fields is idempotent: safe to retry.
	cl := &call{method: http.MethodPatch, path: "/api/keys/" + escape(id), body: body, retrySafe: true}
	if err := c.do(ctx, cl, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// RevokeKey revokes key id at once, on every server replica. Revoking a
// revoked key succeeds.
//
// Errors: ErrNotFound, ErrForbidden, ErrConflict (the last admin key).
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/api/keys/" + escape(id)}, nil)
}

// PolicyInput is a policy to create or to replace one with. Priority and
// Enabled are pointers because the server has defaults for them (100 and
// true); write Enabled: new(false) to store a disabled policy.
type PolicyInput struct {
	Name     string   `json:"name"`
	Priority *int     `json:"priority,omitempty"` // lower runs first; default 100
	Enabled  *bool    `json:"enabled,omitempty"`  // default true
	Scope    string   `json:"scope,omitempty"`    // global (default), per_agent, per_tool
	AgentIDs []string `json:"agentIds,omitempty"`
	ToolIDs  []string `json:"toolIds,omitempty"`
	Rules    []Rule   `json:"rules"`
}

// PolicyPatch changes a policy; nil fields stay as they are.
type PolicyPatch struct {
	Name     *string   `json:"name,omitempty"`
	Priority *int      `json:"priority,omitempty"`
	Enabled  *bool     `json:"enabled,omitempty"`
	Scope    *string   `json:"scope,omitempty"`
	AgentIDs *[]string `json:"agentIds,omitempty"`
	ToolIDs  *[]string `json:"toolIds,omitempty"`
	Rules    *[]Rule   `json:"rules,omitempty"`
}

// PageOptions select a page of a listing.
type PageOptions struct {
	Limit  int // 1 to 100; zero means the server's default (50)
	Offset int
}

// ListPolicies returns one page of policies in evaluation order (lowest
// priority number first).
func (c *Client) ListPolicies(ctx context.Context, opts PageOptions) (*PolicyPage, error) {
	q := url.Values{}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Offset != 0 {
		q.Set("offset", strconv.Itoa(opts.Offset))
	}
	var p PolicyPage
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/policies", query: q}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetPolicy returns policy id.
//
// Errors: ErrNotFound, ErrForbidden.
func (c *Client) GetPolicy(ctx context.Context, id string) (*Policy, error) {
	var p Policy
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/policies/" + escape(id)}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// CreatePolicy stores a new policy; it applies to the next request.
// Like CreateKey it is not retried after a failure that may have reached
// the server.
//
// Errors: ErrInvalid (naming the rule and field at fault), ErrForbidden.
func (c *Client) CreatePolicy(ctx context.Context, in PolicyInput) (*Policy, error) {
	return c.writePolicy(ctx, &call{method: http.MethodPost, path: "/api/policies"}, in)
}

// UpdatePolicy replaces policy id with in (PUT): fields left out of in
// take their defaults. Use PatchPolicy to change some fields only.
//
// Errors: ErrNotFound, ErrInvalid, ErrForbidden.
func (c *Client) UpdatePolicy(ctx context.Context, id string, in PolicyInput) (*Policy, error) {
	return c.writePolicy(ctx, &call{method: http.MethodPut, path: "/api/policies/" + escape(id)}, in)
}

// PatchPolicy changes the given fields of policy id, e.g. to disable it:
//
//	c.PatchPolicy(ctx, id, client.PolicyPatch{Enabled: new(false)})
//
// Errors: ErrNotFound, ErrInvalid, ErrForbidden.
func (c *Client) PatchPolicy(ctx context.Context, id string, p PolicyPatch) (*Policy, error) {
	return c.writePolicy(ctx, &call{method: http.MethodPatch, path: "/api/policies/" + escape(id), retrySafe: true}, p)
}

func (c *Client) writePolicy(ctx context.Context, cl *call, in any) (*Policy, error) {
	if pi, ok := in.(PolicyInput); ok && pi.Rules == nil {
		pi.Rules = []Rule{} // the server requires the field
		in = pi
	}
	body, err := encodeBody(in)
	if err != nil {
		return nil, err
	}
	cl.body = body
	var p Policy
	if err := c.do(ctx, cl, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// DeletePolicy deletes policy id.
//
// Errors: ErrNotFound, ErrForbidden.
func (c *Client) DeletePolicy(ctx context.Context, id string) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/api/policies/" + escape(id)}, nil)
}

// DryRunInput is a request to evaluate without creating it.
type DryRunInput struct {
	Action  string
	Params  any // like RequestInput.Params
	Context any
	Urgency Urgency
	// Agent is the identity to evaluate as (per_agent policies); nil
	// means none.
	Agent *Agent
}

// DryRun reports what the stored policies would decide for in; with a
// non-empty policyID, what that one policy would decide. Nothing is
// stored.
//
// Errors: ErrInvalid, ErrNotFound (policyID), ErrForbidden.
func (c *Client) DryRun(ctx context.Context, policyID string, in DryRunInput) (*DryRunResult, error) {
	b := struct {
		Action  string     `json:"action"`
		Params  jsonObject `json:"params,omitempty"`
		Context jsonObject `json:"context,omitempty"`
		Urgency Urgency    `json:"urgency,omitempty"`
		Agent   *Agent     `json:"agent,omitempty"`
	}{Action: in.Action, Urgency: in.Urgency, Agent: in.Agent}
	var err error
	if b.Params, err = encodeObject("Params", in.Params); err != nil {
		return nil, err
	}
	if b.Context, err = encodeObject("Context", in.Context); err != nil {
		return nil, err
	}
	body, err := encodeBody(b)
	if err != nil {
		return nil, err
	}
	path := "/api/policies/dry-run"
	if policyID != "" {
		path = "/api/policies/" + escape(policyID) + "/dry-run"
	}
	var out DryRunResult
	// A dry run changes nothing: safe to retry.
	if err := c.do(ctx, &call{method: http.MethodPost, path: path, body: body, retrySafe: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
