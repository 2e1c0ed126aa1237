package mcp_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/testserver"
)

// bundle is a running AgentGate with the keys the tests act as.
type bundle struct {
	srv       *testserver.Server
	admin     *client.Client // decides (admin key)
	agentKey  string         // request:create + request:read
	agent     *client.Client
	principal *auth.Principal // the agent key, for the in-process backend
}

// testPolicy routes actions for the tests: auto.ok and the gateway's read
// tool are approved, auto.no and the gateway's forbidden tool denied, and
// everything else goes to a person.
var testPolicy = client.PolicyInput{Name: "mcp tests", Rules: []client.Rule{
	{Match: map[string]any{"action": "auto.ok"}, Decision: client.DecisionAutoApprove},
	{Match: map[string]any{"action": "auto.no"}, Decision: client.DecisionAutoDeny},
	{Match: map[string]any{"action": "mcp.test.read_thing"}, Decision: client.DecisionAutoApprove},
	{Match: map[string]any{"action": "mcp.test.forbidden"}, Decision: client.DecisionAutoDeny},
	{Match: map[string]any{"action": "mcp.test.slow"}, Decision: client.DecisionAutoApprove},
}}

func setup(t testing.TB) *bundle {
	t.Helper()
	srv := testserver.Start(t, nil)
	b := &bundle{srv: srv}
	b.admin = newClient(t, srv.URL, srv.AdminKey)
	b.agentKey = srv.CreateKey(t, "agent", auth.ScopeRequestCreate, auth.ScopeRequestRead)
	b.agent = newClient(t, srv.URL, b.agentKey)
	p, err := srv.App.Auth.Authenticate(context.Background(), b.agentKey)
	if err != nil {
		t.Fatal(err)
	}
	b.principal = p
	if _, err := b.admin.CreatePolicy(context.Background(), testPolicy); err != nil {
		t.Fatal(err)
	}
	return b
}

func newClient(t testing.TB, url, key string) *client.Client {
	t.Helper()
	c, err := client.New(url, key, client.WithRetry(3, 5*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect serves s over in-memory transports and returns a client session
// named test-client 1.2.3.
func connect(t testing.TB, s *sdk.Server, opts *sdk.ClientOptions) *sdk.ClientSession {
	t.Helper()
	ct, st := sdk.NewInMemoryTransports()
	ss, err := s.Connect(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test-client", Version: "1.2.3"}, opts).Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Wait()
	})
	return cs
}

// call calls a tool and fails the test on a protocol error.
func call(t testing.TB, cs *sdk.ClientSession, name string, args any) *sdk.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(testCtx(t), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

func text(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// structured decodes a result's structured content into v.
func structured(t testing.TB, res *sdk.CallToolResult, v any) {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
}

// progressLog collects progress notifications a client receives.
type progressLog struct {
	mu    sync.Mutex
	items []*sdk.ProgressNotificationParams
	got   chan struct{} // one send per notification, never blocks
}

func newProgressLog() *progressLog { return &progressLog{got: make(chan struct{}, 1000)} }

func (l *progressLog) handler(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
	l.mu.Lock()
	l.items = append(l.items, req.Params)
	l.mu.Unlock()
	select {
	case l.got <- struct{}{}:
	default:
	}
}

// wait waits for n more notifications.
func (l *progressLog) wait(t testing.TB, n int) {
	t.Helper()
	ctx := testCtx(t)
	for range n {
		select {
		case <-l.got:
		case <-ctx.Done():
			t.Fatalf("progress notifications did not arrive; got %d", len(l.all()))
		}
	}
}

func (l *progressLog) all() []*sdk.ProgressNotificationParams {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*sdk.ProgressNotificationParams(nil), l.items...)
}

// watchPending notes the audit trail's newest event and returns a
// function that waits for the first pending request with action created
// after it (by a tool running concurrently): the event stream replays
// from the mark, so no event is missed whatever the timing.
func (b *bundle) watchPending(t testing.TB, action string) func() *client.Request {
	t.Helper()
	page, err := b.admin.ListAudit(testCtx(t), client.AuditOptions{Limit: 1})
	if err != nil || len(page.Entries) == 0 {
		t.Fatalf("audit: %v %v", page, err)
	}
	mark := page.Entries[0].ID
	return func() *client.Request {
		t.Helper()
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		opts := client.EventsOptions{Action: []string{action}, Status: []client.Status{client.StatusPending}, LastEventID: mark}
		for ev, err := range b.admin.Events(ctx, opts) {
			if err != nil {
				t.Fatal(err)
			}
			return ev.Request
		}
		t.Fatalf("no pending %s request appeared", action)
		return nil
	}
}

func (b *bundle) decide(t testing.TB, id string, approve bool, reason string) {
	t.Helper()
	d := client.StatusDenied
	if approve {
		d = client.StatusApproved
	}
	if _, err := b.admin.Decide(testCtx(t), id, client.DecideInput{Decision: d, Reason: reason}); err != nil {
		t.Fatal(err)
	}
}

func clientList(action string) client.ListOptions { return client.ListOptions{Action: action} }
