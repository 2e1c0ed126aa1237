package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// RequestInput is what an agent asks to do.
type RequestInput struct {
	// Action names what the agent wants to do, e.g. "send_email". Required.
	Action string
	// Params are the action's arguments; Context is anything that helps a
	// person decide (who asked, why). Each must encode to a JSON object:
	// a map[string]any, a struct, a json.RawMessage, or nil for {}.
	// Policies match on both.
	Params  any
	Context any
	// Urgency defaults to UrgencyNormal on the server.
	Urgency Urgency
	// ExpiresAt ends the request (status expired, or what its rule's
	// onTimeout says) if nobody decides before it. Zero uses the matching
	// rule's timeout or the server's default.
	ExpiresAt time.Time
	// IdempotencyKey makes creation safe to repeat: the server returns the
	// request first created with this key (by the same API key) instead of
	// creating another. Empty means the client generates a random key for
	// this call, reused by its retries. Set your own (e.g. derived from
	// your job id) to survive a restart of your agent between asking and
	// receiving the answer. At most 256 characters.
	IdempotencyKey string
}

type createBody struct {
	Action    string     `json:"action"`
	Params    jsonObject `json:"params,omitempty"`
	Context   jsonObject `json:"context,omitempty"`
	Urgency   Urgency    `json:"urgency,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// jsonObject is an already encoded JSON object (or nil).
type jsonObject []byte

func (o jsonObject) MarshalJSON() ([]byte, error) {
	if o == nil {
		return []byte("{}"), nil
	}
	return o, nil
}

// encodeObject encodes v, which must be nil or encode to a JSON object.
func encodeObject(name string, v any) (jsonObject, error) {
	if v == nil {
		return nil, nil
	}
	b, err := encodeBody(v)
	if err != nil {
		return nil, fmt.Errorf("agentgate: %s: %w", name, err)
	}
	t := bytes.TrimSpace(b)
	if string(t) == "null" {
		return nil, nil
	}
	if len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("agentgate: %s must encode to a JSON object, got %.40s", name, t)
	}
	return jsonObject(t), nil
}

// Request asks for approval of in.Action and returns the new request. A
// policy may decide it at once (Status approved or denied); otherwise it is
// pending and Wait returns its decision.
//
// Request is safe to retry: every attempt carries the same Idempotency-Key,
// so a retry after a lost answer returns the request the first attempt
// created instead of creating a second one.
//
// Errors: ErrInvalid (bad input, or IdempotencyKey reused with different
// input), ErrUnauthorized, ErrForbidden (the key lacks request:create),
// ErrRateLimited, ErrUnreachable.
func (c *Client) Request(ctx context.Context, in RequestInput) (*Request, error) {
	if in.Action == "" {
		return nil, fmt.Errorf("%w: Action is required", ErrInvalid)
	}
	b := createBody{Action: in.Action, Urgency: in.Urgency}
	var err error
	if b.Params, err = encodeObject("Params", in.Params); err != nil {
		return nil, err
	}
	if b.Context, err = encodeObject("Context", in.Context); err != nil {
		return nil, err
	}
	if !in.ExpiresAt.IsZero() {
		t := in.ExpiresAt.UTC()
		b.ExpiresAt = &t
	}
	body, err := encodeBody(b)
	if err != nil {
		return nil, err
	}
	key := in.IdempotencyKey
	if key == "" {
		key = newToken()
	}
	cl := &call{method: http.MethodPost, path: "/api/requests", body: body, retrySafe: true,
		header: http.Header{"Idempotency-Key": {key}}}
	var r Request
	if err := c.do(ctx, cl, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Get returns request id.
//
// Errors: ErrNotFound, ErrUnauthorized, ErrForbidden (no request:read).
func (c *Client) Get(ctx context.Context, id string) (*Request, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty request id", ErrInvalid)
	}
	var r Request
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/requests/" + escape(id)}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Sort orders of ListOptions.Sort.
const (
	SortNewest       = "newest"        // newest first (default)
	SortOldest       = "created_at"    // oldest first
	SortUrgency      = "urgency"       // most urgent first, then oldest
	SortSLARemaining = "sla_remaining" // soonest expiry first
)

// ListOptions filter and page request listings. Zero values mean "any".
type ListOptions struct {
	Status    Status
	Action    string // exact action name
	AgentID   string // the creating API key's id
	DecidedBy string
	From, To  time.Time // creation time range
	Sort      string    // SortNewest (default), SortOldest, SortUrgency, SortSLARemaining
	// Limit is the page size, 1 to 100; zero means the server's default
	// (50). For List it is the size of the pages fetched.
	Limit int
	// Offset skips that many requests.
	Offset int
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("status", string(o.Status))
	set("action", o.Action)
	set("agentId", o.AgentID)
	set("decidedBy", o.DecidedBy)
	if !o.From.IsZero() {
		q.Set("from", o.From.UTC().Format(time.RFC3339Nano))
	}
	if !o.To.IsZero() {
		q.Set("to", o.To.UTC().Format(time.RFC3339Nano))
	}
	set("sort", o.Sort)
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset != 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	return q
}

// ListPage returns one page of requests.
//
// Errors: ErrInvalid (bad filter or page bounds), ErrUnauthorized,
// ErrForbidden.
func (c *Client) ListPage(ctx context.Context, opts ListOptions) (*RequestPage, error) {
	var p RequestPage
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/requests", query: opts.query()}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// List returns an iterator over every request matching opts, fetching
// pages of opts.Limit as it goes, starting at opts.Offset:
//
//	for r, err := range c.List(ctx, client.ListOptions{Status: client.StatusPending}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(r.ID, r.Action)
//	}
//
// An error ends the iteration after it is yielded. Pages are read by
// offset, so requests created or decided during the iteration can shift
// the pages: the iterator skips a request it already yielded from the
// previous page, but may miss one that moved back across a page boundary.
// Filter by a time range (To) for a stable listing.
func (c *Client) List(ctx context.Context, opts ListOptions) iter.Seq2[*Request, error] {
	return func(yield func(*Request, error) bool) {
		prev := map[string]bool{}
		for {
			p, err := c.ListPage(ctx, opts)
			if err != nil {
				yield(nil, err)
				return
			}
			seen := make(map[string]bool, len(p.Requests))
			for _, r := range p.Requests {
				seen[r.ID] = true
				if prev[r.ID] {
					continue
				}
				if !yield(r, nil) {
					return
				}
			}
			if !p.Page.HasMore || len(p.Requests) == 0 {
				return
			}
			prev = seen
			opts.Offset = p.Page.Offset + len(p.Requests)
			if opts.Limit == 0 {
				opts.Limit = p.Page.Limit
			}
		}
	}
}

// DecideInput is a decision on a pending request.
type DecideInput struct {
	// Decision is StatusApproved or StatusDenied.
	Decision Status
	// Reason is shown to the agent and kept in the audit trail; rules may
	// require one.
	Reason string
	// Label is an optional display name for the decider ("alice on
	// call"). The server records the API key as the decider either way.
	Label string
	// Params, with an approval, are edited params (a JSON object: a map, a
	// struct or json.RawMessage). The policies are evaluated again on the
	// edited request (an edit they would deny is refused with 422) and the
	// agent receives them as ApprovedParams.
	Params any
	// Grant, with an approval, also approves the same agent's next requests
	// for the same action for a while.
	Grant *GrantInput
}

// GrantInput is a time-boxed grant created with an approval.
type GrantInput struct {
	Duration time.Duration // how long the grant lasts (at most 30 days)
	MaxUses  int           // how many requests it may approve; 0 means no limit
	// Conditions optionally restricts it to requests whose params match
	// this policy match object, e.g. {"params.amount": {"$lte": 100}}.
	Conditions map[string]any
}

// Decide records a decision on the pending request id and returns the
// decided request. The caller's key needs request:decide, must not be the
// key that created the request, and must be one of the rule's approvers
// when the rule names some.
//
// Decide is safe to retry. If an attempt's answer is lost and the retry
// finds the request already decided (409), Decide reads the request: when
// the recorded decision is this key's, with the same outcome, the first
// attempt won and Decide returns the request with no error. Otherwise
// someone else decided first and Decide returns ErrConflict.
//
// Errors: ErrNotFound; ErrConflict (no longer pending); ErrForbidden
// (missing scope, own request, not an approver); ErrInvalid (bad decision,
// or a reason is required).
func (c *Client) Decide(ctx context.Context, id string, in DecideInput) (*Request, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty request id", ErrInvalid)
	}
	if in.Decision != StatusApproved && in.Decision != StatusDenied {
		return nil, fmt.Errorf("%w: Decision must be %q or %q", ErrInvalid, StatusApproved, StatusDenied)
	}
	type grant struct {
		Duration   string         `json:"duration"`
		MaxUses    *int           `json:"maxUses,omitempty"`
		Conditions map[string]any `json:"conditions,omitempty"`
	}
	b := struct {
		Decision Status      `json:"decision"`
		Reason   string      `json:"reason,omitempty"`
		Label    string      `json:"decidedBy,omitempty"`
		Params   *jsonObject `json:"params,omitempty"`
		Grant    *grant      `json:"grant,omitempty"`
	}{Decision: in.Decision, Reason: in.Reason, Label: in.Label}
	if in.Params != nil {
		p, err := encodeObject("Params", in.Params)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if p == nil {
			p = jsonObject("{}")
		}
		b.Params = &p
	}
	if g := in.Grant; g != nil {
		if g.Duration <= 0 {
			return nil, fmt.Errorf("%w: Grant.Duration must be positive", ErrInvalid)
		}
		b.Grant = &grant{Duration: g.Duration.String(), Conditions: g.Conditions}
		if g.MaxUses > 0 {
			b.Grant.MaxUses = &g.MaxUses
		}
	}
	body, err := encodeBody(b)
	if err != nil {
		return nil, err
	}
	cl := &call{method: http.MethodPost, path: "/api/requests/" + escape(id) + "/decide", body: body, retrySafe: true}
	var r Request
	err = c.do(ctx, cl, &r)
	if err == nil {
		return &r, nil
	}
	if errors.Is(err, ErrConflict) && cl.ambiguous {
		if mine := c.reconcileDecision(ctx, id, in.Decision); mine != nil {
			return mine, nil
		}
	}
	return nil, err
}

// reconcileDecision returns request id when its recorded decision is
// outcome by this client's key: the answer to an earlier attempt was lost.
func (c *Client) reconcileDecision(ctx context.Context, id string, outcome Status) *Request {
	me, err := c.Me(ctx)
	if err != nil {
		return nil
	}
	r, err := c.Get(ctx, id)
	if err != nil {
		return nil
	}
	if r.Status == outcome && r.DecidedByType == ActorHuman && r.DecidedByID == me.ID {
		c.log.DebugContext(ctx, "agentgate: a retried decision found its first attempt recorded", "request", id)
		return r
	}
	return nil
}

// Audit returns the audit trail of request id, oldest event first.
//
// Errors: ErrNotFound, ErrUnauthorized, ErrForbidden.
func (c *Client) Audit(ctx context.Context, id string) ([]*AuditEvent, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty request id", ErrInvalid)
	}
	var out []*AuditEvent
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/requests/" + escape(id) + "/audit"}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// AuditOptions filter and page the audit log. Zero values mean "any".
type AuditOptions struct {
	RequestID string
	EventType string // created, approved, denied, expired, key.created, ...
	Actor     string
	Action    string
	Status    Status
	From, To  time.Time
	Limit     int // 1 to 100; zero means the server's default (50)
	Offset    int
}

// ListAudit returns one page of the audit log, newest first.
//
// Errors: ErrInvalid, ErrUnauthorized, ErrForbidden.
func (c *Client) ListAudit(ctx context.Context, opts AuditOptions) (*AuditPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"requestId": opts.RequestID, "eventType": opts.EventType,
		"actor": opts.Actor, "action": opts.Action, "status": string(opts.Status)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !opts.From.IsZero() {
		q.Set("from", opts.From.UTC().Format(time.RFC3339Nano))
	}
	if !opts.To.IsZero() {
		q.Set("to", opts.To.UTC().Format(time.RFC3339Nano))
	}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Offset != 0 {
		q.Set("offset", strconv.Itoa(opts.Offset))
	}
	var p AuditPage
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/audit", query: q}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Me returns the identity of the client's API key. It is the cheapest
// authenticated call: use it to check the URL and key.
//
// Errors: ErrUnauthorized, ErrUnreachable.
func (c *Client) Me(ctx context.Context) (*Identity, error) {
	var id Identity
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/me"}, &id); err != nil {
		return nil, err
	}
	return &id, nil
}

// Health returns the server's status; it needs no API key.
//
// Errors: ErrUnreachable, ErrUnavailable.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/health"}, &h); err != nil {
		return nil, err
	}
	return &h, nil
}
