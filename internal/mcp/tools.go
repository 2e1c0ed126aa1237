package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tool names. They are the seed README's names; the upstream calls its
// tools agentgate_request, agentgate_get, ... and also offers
// agentgate_decide and policy CRUD, which we deliberately do not (see
// NewServer).
const (
	ToolRequestApproval = "request_approval"
	ToolCheckRequest    = "check_request"
	ToolListRequests    = "list_requests"
	ToolWaitForDecision = "wait_for_decision"
)

// Waiting bounds of the tools.
const (
	// DefaultWait is wait_for_decision's timeout when the call gives none:
	// under the 60 s after which common clients give up on a request that
	// sends no progress.
	DefaultWait = 45 * time.Second
	// MaxWait caps every wait; longer requests are cut to it, and the
	// answer says so.
	MaxWait = 600 * time.Second
)

// ServerOptions configure NewServer. The zero value is ready to use.
type ServerOptions struct {
	// DefaultWait is wait_for_decision's timeout when none is given.
	// Defaults to DefaultWait.
	DefaultWait time.Duration
	// MaxWait caps every wait. Defaults to MaxWait.
	MaxWait time.Duration
	// Heartbeat is the interval of progress notifications while a call
	// waits. Defaults to DefaultHeartbeat.
	Heartbeat time.Duration
	// Version is reported as the server's version. Defaults to "dev".
	Version string
	// Logger receives backend failures. Defaults to discarding.
	Logger *slog.Logger
}

func (o *ServerOptions) withDefaults() ServerOptions {
	var c ServerOptions
	if o != nil {
		c = *o
	}
	if c.DefaultWait <= 0 {
		c.DefaultWait = DefaultWait
	}
	if c.MaxWait <= 0 {
		c.MaxWait = MaxWait
	}
	c.DefaultWait = min(c.DefaultWait, c.MaxWait)
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// instructions tell the model how to use the tools.
const instructions = `AgentGate puts a person (or a policy they wrote) between you and the actions you take.
Before an action with side effects, call request_approval with the action and its params.
Act only when the answer's status is "approved", and then with exactly the approved params
(approvedParams when present). "denied" and "expired" mean: do not act. "pending" means a
person has not decided yet: call wait_for_decision with the request id (as often as needed).
You cannot approve or deny requests yourself.`

// NewServer returns an MCP server with AgentGate's approval tools:
// request_approval, check_request, list_requests and wait_for_decision.
//
// No tool decides a request or changes a policy. The upstream's MCP server
// offers agentgate_decide and policy CRUD to the agent, so an agent could
// approve its own request or delete the policy that constrains it. Here
// deciding happens only through people's channels (dashboard, Slack, CLI,
// the REST API with a request:decide key), and the server refuses a
// decision by the key that created the request anyway.
func NewServer(b Backend, opts *ServerOptions) *sdk.Server {
	o := opts.withDefaults()
	s := sdk.NewServer(&sdk.Implementation{Name: "agentgate", Title: "AgentGate approvals", Version: o.Version},
		&sdk.ServerOptions{Instructions: instructions, Logger: quiet(o.Logger)})
	t := &tools{b: b, o: o}
	sdk.AddTool(s, &sdk.Tool{
		Name:  ToolRequestApproval,
		Title: "Request approval",
		Description: "Ask for approval before performing an action. Policies may approve or deny at once; " +
			"otherwise a person decides. Optionally wait up to wait_seconds (at most " + secs(o.MaxWait) + ") for the decision. " +
			"Act only if the returned status is approved.",
		InputSchema: requestApprovalSchema(),
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: false, DestructiveHint: new(false), IdempotentHint: false, OpenWorldHint: new(false)},
	}, t.requestApproval)
	sdk.AddTool(s, &sdk.Tool{
		Name:        ToolCheckRequest,
		Title:       "Check a request",
		Description: "Return the current status of an approval request (pending, approved, denied or expired) without waiting.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)},
	}, t.checkRequest)
	sdk.AddTool(s, &sdk.Tool{
		Name:        ToolListRequests,
		Title:       "List requests",
		Description: "List recent approval requests, newest first, optionally only those with a given status.",
		InputSchema: listRequestsSchema(),
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)},
	}, t.listRequests)
	sdk.AddTool(s, &sdk.Tool{
		Name:  ToolWaitForDecision,
		Title: "Wait for a decision",
		Description: "Wait until a pending approval request is decided, or until timeout_seconds pass " +
			"(default " + secs(o.DefaultWait) + ", at most " + secs(o.MaxWait) + "). Call it again while the status is still pending.",
		InputSchema: waitSchema(),
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(false)},
	}, t.waitForDecision)
	return s
}

func secs(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Seconds())) }

type tools struct {
	b Backend
	o ServerOptions
}

// RequestApprovalInput is request_approval's input.
type RequestApprovalInput struct {
	Action      string         `json:"action" jsonschema:"what you want to do, e.g. send_email or deploy.production"`
	Params      map[string]any `json:"params,omitempty" jsonschema:"the action's arguments, shown to the approver; policies match on them"`
	Context     map[string]any `json:"context,omitempty" jsonschema:"why you want to do it and anything else that helps a person decide"`
	Urgency     string         `json:"urgency,omitempty" jsonschema:"how soon a person is needed: low, normal (default), high or critical"`
	WaitSeconds *int           `json:"wait_seconds,omitempty" jsonschema:"seconds to wait for the decision before returning (default 0: return at once)"`
}

// CheckRequestInput is check_request's input.
type CheckRequestInput struct {
	ID string `json:"id" jsonschema:"the request id (req_...) that request_approval returned"`
}

// ListRequestsInput is list_requests' input.
type ListRequestsInput struct {
	Status string `json:"status,omitempty" jsonschema:"only requests with this status: pending, approved, denied or expired"`
	Limit  int    `json:"limit,omitempty" jsonschema:"how many requests to return (default 10, at most 100)"`
}

// WaitForDecisionInput is wait_for_decision's input.
type WaitForDecisionInput struct {
	ID             string `json:"id" jsonschema:"the request id (req_...)"`
	TimeoutSeconds *int   `json:"timeout_seconds,omitempty" jsonschema:"seconds to wait before returning a still pending request"`
}

// RequestResult is the structured result of request_approval,
// check_request and wait_for_decision.
type RequestResult struct {
	ID       string `json:"id" jsonschema:"the request id"`
	Action   string `json:"action"`
	Status   string `json:"status" jsonschema:"pending, approved, denied or expired"`
	Approved bool   `json:"approved" jsonschema:"true only when the action may be performed"`
	// DecidedBy names who decided: a person's (or key's) name, policy or
	// system.
	DecidedBy      string         `json:"decidedBy,omitempty" jsonschema:"who decided: a person, policy or system"`
	DecidedByType  string         `json:"decidedByType,omitempty" jsonschema:"human, policy or system"`
	Reason         string         `json:"reason,omitempty" jsonschema:"the reason given with the decision"`
	ApprovedParams map[string]any `json:"approvedParams,omitempty" jsonschema:"the params as the approver edited them: act with these when present"`
	Urgency        string         `json:"urgency,omitempty"`
	CreatedAt      string         `json:"createdAt,omitempty"`
	DecidedAt      string         `json:"decidedAt,omitempty"`
	ExpiresAt      string         `json:"expiresAt,omitempty" jsonschema:"when a pending request expires unanswered"`
	WaitedSeconds  int            `json:"waitedSeconds,omitempty" jsonschema:"how long this call waited"`
	Next           string         `json:"next,omitempty" jsonschema:"what to do next"`
}

// ListResult is list_requests' structured result.
type ListResult struct {
	Requests []RequestResult `json:"requests"`
	Total    int64           `json:"total" jsonschema:"how many requests match in all"`
}

func (t *tools) requestApproval(ctx context.Context, req *sdk.CallToolRequest, in RequestApprovalInput) (*sdk.CallToolResult, RequestResult, error) {
	// Take params and context as the client sent them, so large integers
	// and exact decimals reach the approver unrounded.
	var raw struct {
		Params  json.RawMessage `json:"params"`
		Context json.RawMessage `json:"context"`
	}
	if req != nil && req.Params != nil {
		_ = json.Unmarshal(req.Params.Arguments, &raw)
	}
	r, err := t.b.Request(ctx, Ask{Action: in.Action, Params: raw.Params, Context: raw.Context, Urgency: in.Urgency})
	if err != nil {
		return nil, RequestResult{}, t.fail(ctx, ToolRequestApproval, err)
	}
	wait, capped := t.waitFor(in.WaitSeconds, 0)
	var waited time.Duration
	if r.Status == StatusPending && wait > 0 {
		if r, waited, err = t.wait(ctx, req, r.ID, wait); err != nil {
			return nil, RequestResult{}, t.fail(ctx, ToolRequestApproval, err)
		}
	}
	return t.answer(r, waited, wait > 0, capped)
}

func (t *tools) checkRequest(ctx context.Context, _ *sdk.CallToolRequest, in CheckRequestInput) (*sdk.CallToolResult, RequestResult, error) {
	r, err := t.b.Get(ctx, strings.TrimSpace(in.ID))
	if err != nil {
		return nil, RequestResult{}, t.fail(ctx, ToolCheckRequest, err)
	}
	return t.answer(r, 0, false, false)
}

func (t *tools) waitForDecision(ctx context.Context, req *sdk.CallToolRequest, in WaitForDecisionInput) (*sdk.CallToolResult, RequestResult, error) {
	id := strings.TrimSpace(in.ID)
	wait, capped := t.waitFor(in.TimeoutSeconds, t.o.DefaultWait)
	var (
		r      *Request
		waited time.Duration
		err    error
	)
	if wait > 0 {
		r, waited, err = t.wait(ctx, req, id, wait)
	} else {
		r, err = t.b.Get(ctx, id)
	}
	if err != nil {
		return nil, RequestResult{}, t.fail(ctx, ToolWaitForDecision, err)
	}
	return t.answer(r, waited, true, capped)
}

func (t *tools) listRequests(ctx context.Context, _ *sdk.CallToolRequest, in ListRequestsInput) (*sdk.CallToolResult, ListResult, error) {
	limit := in.Limit
	if limit <= 0 {
		limit = 10
	}
	limit = min(limit, 100)
	rs, total, err := t.b.List(ctx, in.Status, limit)
	if err != nil {
		return nil, ListResult{}, t.fail(ctx, ToolListRequests, err)
	}
	out := ListResult{Requests: make([]RequestResult, len(rs)), Total: total}
	var text strings.Builder
	fmt.Fprintf(&text, "%d of %d requests", len(rs), total)
	if in.Status != "" {
		fmt.Fprintf(&text, " with status %s", in.Status)
	}
	text.WriteString(" (newest first)")
	for i, r := range rs {
		out.Requests[i] = toResult(r)
		fmt.Fprintf(&text, "\n%s %s: %s", r.ID, r.Action, r.Status)
		if r.Status != StatusPending && r.DecidedBy != "" {
			fmt.Fprintf(&text, " by %s", r.DecidedBy)
		}
	}
	return textResult(text.String()), out, nil
}

// waitFor turns a requested number of seconds into a wait, capped at
// MaxWait; capped reports that the request was cut.
func (t *tools) waitFor(seconds *int, def time.Duration) (d time.Duration, capped bool) {
	d = def
	if seconds != nil {
		d = time.Duration(max(*seconds, 0)) * time.Second
	}
	if d > t.o.MaxWait {
		return t.o.MaxWait, true
	}
	return d, false
}

// wait waits up to d for a decision on id, with heartbeats.
func (t *tools) wait(ctx context.Context, req *sdk.CallToolRequest, id string, d time.Duration) (*Request, time.Duration, error) {
	start := time.Now()
	stop := keepAlive(ctx, req, t.o.Heartbeat, d, "a decision on "+id)
	r, err := t.b.Wait(ctx, id, d)
	stop()
	return r, time.Since(start), err
}

func (t *tools) answer(r *Request, waited time.Duration, didWait, capped bool) (*sdk.CallToolResult, RequestResult, error) {
	out := toResult(r)
	out.WaitedSeconds = int(waited.Round(time.Second).Seconds())
	line := summary(r)
	switch r.Status {
	case StatusPending:
		out.Next = "call wait_for_decision with id " + r.ID
		if didWait {
			line = fmt.Sprintf("still pending after %s — call wait_for_decision again with id %s", waited.Round(time.Second), r.ID)
		} else {
			line = "pending: a person has not decided yet — call wait_for_decision with id " + r.ID
		}
		if capped {
			line += fmt.Sprintf(" (waits are capped at %s per call)", secs(t.o.MaxWait))
		}
		return textResult(line), out, nil
	case StatusApproved:
		if len(r.ApprovedParams) > 0 {
			out.Next = "perform " + r.Action + " with approvedParams (the approver edited the params)"
		} else {
			out.Next = "perform " + r.Action + " with the params you asked for"
		}
		line += " — " + out.Next
	default:
		out.Next = "do not perform " + r.Action
		line += " — " + out.Next
	}
	return textResult(line + " [" + r.ID + "]"), out, nil
}

// summary is the first words of a result: "approved by alice: looks fine".
func summary(r *Request) string {
	var b strings.Builder
	b.WriteString(r.Status)
	if r.Status == StatusExpired {
		b.WriteString(" without a decision")
	} else if by := decider(r); by != "" {
		b.WriteString(" by " + by)
	}
	if r.DecisionReason != "" {
		b.WriteString(": " + r.DecisionReason)
	}
	return b.String()
}

func decider(r *Request) string {
	if r.DecidedBy != "" {
		return r.DecidedBy
	}
	return r.DecidedByType
}

func toResult(r *Request) RequestResult {
	out := RequestResult{
		ID: r.ID, Action: r.Action, Status: r.Status, Approved: r.Status == StatusApproved,
		Urgency: r.Urgency, CreatedAt: formatTime(r.CreatedAt),
	}
	if r.Status == StatusPending {
		out.ExpiresAt = formatTime(r.ExpiresAt)
	} else {
		out.DecidedBy, out.DecidedByType, out.Reason = decider(r), r.DecidedByType, r.DecisionReason
		out.DecidedAt = formatTime(r.DecidedAt)
	}
	if len(r.ApprovedParams) > 0 {
		dec := json.NewDecoder(bytes.NewReader(r.ApprovedParams))
		dec.UseNumber()
		_ = dec.Decode(&out.ApprovedParams)
	}
	return out
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func textResult(s string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}}
}

// fail turns a backend error into the tool error the model sees, and logs
// failures of AgentGate itself.
func (t *tools) fail(ctx context.Context, tool string, err error) error {
	switch {
	case errors.Is(err, ErrUnavailable):
		t.o.Logger.WarnContext(ctx, "mcp: AgentGate unavailable", "tool", tool, "err", errors.Unwrap(err))
		return fmt.Errorf("%v — do not act; try again later", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cancelled before AgentGate answered — do not act")
	}
	return err
}

// Schemas: inferred from the input structs, then narrowed where struct
// tags cannot say it (enums, bounds).
func requestApprovalSchema() *jsonschema.Schema {
	s := mustSchema[RequestApprovalInput]()
	s.Properties["action"].MinLength = new(1)
	s.Properties["urgency"].Enum = []any{"low", "normal", "high", "critical"}
	s.Properties["wait_seconds"].Minimum = new(0.0)
	return s
}

func listRequestsSchema() *jsonschema.Schema {
	s := mustSchema[ListRequestsInput]()
	s.Properties["status"].Enum = []any{StatusPending, StatusApproved, StatusDenied, StatusExpired}
	s.Properties["limit"].Minimum = new(0.0)
	return s
}

func waitSchema() *jsonschema.Schema {
	s := mustSchema[WaitForDecisionInput]()
	s.Properties["id"].MinLength = new(1)
	s.Properties["timeout_seconds"].Minimum = new(0.0)
	return s
}

func mustSchema[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: schema of %T: %v", *new(T), err))
	}
	return s
}
