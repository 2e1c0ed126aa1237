package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/mcp"
	"github.com/agentgate/agentgate/internal/mcp/remote"
)

// backends runs f against both implementations of mcp.Backend: the HTTP API
// through the Go SDK (agentgate mcp) and the service in process (/mcp).
func backends(t *testing.T, f func(t *testing.T, b *bundle, backend mcp.Backend)) {
	t.Helper()
	b := setup(t)
	t.Run("client", func(t *testing.T) { f(t, b, &remote.Backend{C: b.agent}) })
	t.Run("service", func(t *testing.T) {
		f(t, b, &mcp.ServiceBackend{Approvals: b.srv.App.Approvals, Principal: b.principal})
	})
}

func TestToolsList(t *testing.T) {
	t.Parallel()
	cs := connect(t, mcp.NewServer(&remote.Backend{}, nil), nil)
	res, err := cs.ListTools(testCtx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if tool.Description == "" || tool.InputSchema == nil || tool.OutputSchema == nil {
			t.Errorf("tool %s lacks a description or schema", tool.Name)
		}
		// No tool may decide a request or touch policies.
		for _, bad := range []string{"decide", "approve", "deny", "polic"} {
			if strings.Contains(tool.Name, bad) {
				t.Errorf("tool %s must not exist: agents must not decide or change policies", tool.Name)
			}
		}
	}
	slices.Sort(names)
	want := []string{mcp.ToolCheckRequest, mcp.ToolListRequests, mcp.ToolRequestApproval, mcp.ToolWaitForDecision}
	if !slices.Equal(names, want) {
		t.Errorf("tools = %v, want %v", names, want)
	}
	// request_approval requires action and offers the four urgencies.
	for _, tool := range res.Tools {
		if tool.Name != mcp.ToolRequestApproval {
			continue
		}
		schema := tool.InputSchema.(map[string]any)
		if req, _ := schema["required"].([]any); len(req) != 1 || req[0] != "action" {
			t.Errorf("required = %v, want [action]", schema["required"])
		}
		urgency := schema["properties"].(map[string]any)["urgency"].(map[string]any)
		if len(urgency["enum"].([]any)) != 4 {
			t.Errorf("urgency enum = %v", urgency["enum"])
		}
	}
}

func TestToolsDecisions(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b *bundle, backend mcp.Backend) {
		cs := connect(t, mcp.NewServer(backend, nil), nil)
		cases := []struct {
			name, action string
			wantStatus   string
			wantText     string
		}{
			{"policy approves", "auto.ok", mcp.StatusApproved, "approved by "},
			{"policy denies", "auto.no", mcp.StatusDenied, "denied by "},
			{"a person must decide", "deploy." + t.Name(), mcp.StatusPending, "pending: a person has not decided yet — call wait_for_decision with id req_"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := call(t, cs, mcp.ToolRequestApproval, json.RawMessage(`{"action":"`+tc.action+`","params":{"n":12345678901234567890}}`))
				if res.IsError {
					t.Fatalf("tool error: %s", text(res))
				}
				var out mcp.RequestResult
				structured(t, res, &out)
				if out.Status != tc.wantStatus || out.Approved != (tc.wantStatus == mcp.StatusApproved) || !strings.HasPrefix(out.ID, "req_") {
					t.Errorf("result = %+v, want status %s", out, tc.wantStatus)
				}
				if !strings.HasPrefix(text(res), tc.wantText) {
					t.Errorf("text = %q, want prefix %q", text(res), tc.wantText)
				}
				// Params reach AgentGate exactly, large integers included.
				got, err := b.admin.Get(testCtx(t), out.ID)
				if err != nil {
					t.Fatal(err)
				}
				if string(got.Params) != `{"n":12345678901234567890}` {
					t.Errorf("stored params = %s", got.Params)
				}
			})
		}
	})
}

func TestToolsWaitForDecision(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b *bundle, backend mcp.Backend) {
		progress := newProgressLog()
		cs := connect(t, mcp.NewServer(backend, &mcp.ServerOptions{Heartbeat: 20 * time.Millisecond}),
			&sdk.ClientOptions{ProgressNotificationHandler: progress.handler})
		action := "deploy." + strings.ReplaceAll(t.Name(), "/", ".")
		res := call(t, cs, mcp.ToolRequestApproval, map[string]any{"action": action})
		var asked mcp.RequestResult
		structured(t, res, &asked)

		// A person approves while the agent waits; the wait sends
		// heartbeats until then.
		done := make(chan *sdk.CallToolResult, 1)
		go func() {
			params := &sdk.CallToolParams{Name: mcp.ToolWaitForDecision, Arguments: map[string]any{"id": asked.ID, "timeout_seconds": 30}}
			params.SetProgressToken("tok-1")
			res, err := cs.CallTool(testCtx(t), params)
			if err != nil {
				t.Error(err)
			}
			done <- res
		}()
		progress.wait(t, 1) // the wait is under way: it sent a heartbeat
		b.decide(t, asked.ID, true, "looks fine")
		res = <-done
		if res == nil {
			t.FailNow()
		}
		var out mcp.RequestResult
		structured(t, res, &out)
		if out.Status != mcp.StatusApproved || !out.Approved || out.DecidedBy != "test-admin" || out.Reason != "looks fine" || out.DecidedByType != "human" {
			t.Errorf("result = %+v", out)
		}
		if want := "approved by test-admin: looks fine — perform " + action; !strings.HasPrefix(text(res), want) {
			t.Errorf("text = %q, want prefix %q", text(res), want)
		}
		ps := progress.all()
		for i, p := range ps {
			if p.ProgressToken != "tok-1" || !strings.Contains(p.Message, asked.ID) || p.Total != 30 {
				t.Errorf("progress %d = %+v", i, p)
			}
			if i > 0 && p.Progress <= ps[i-1].Progress {
				t.Errorf("progress does not grow: %v then %v", ps[i-1].Progress, p.Progress)
			}
		}
	})
}

func TestToolsStillPending(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b *bundle, backend mcp.Backend) {
		cs := connect(t, mcp.NewServer(backend, &mcp.ServerOptions{MaxWait: time.Second}), nil)
		res := call(t, cs, mcp.ToolRequestApproval, map[string]any{"action": "deploy", "wait_seconds": 5})
		var out mcp.RequestResult
		structured(t, res, &out)
		want := "still pending after 1s — call wait_for_decision again with id " + out.ID + " (waits are capped at 1s per call)"
		if out.Status != mcp.StatusPending || text(res) != want {
			t.Errorf("text = %q, want %q", text(res), want)
		}
		if out.WaitedSeconds != 1 || out.Next != "call wait_for_decision with id "+out.ID {
			t.Errorf("result = %+v", out)
		}
	})
}

func TestToolsCheckAndList(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b *bundle, backend mcp.Backend) {
		cs := connect(t, mcp.NewServer(backend, nil), nil)
		var denied mcp.RequestResult
		structured(t, call(t, cs, mcp.ToolRequestApproval, map[string]any{"action": "auto.no"}), &denied)

		res := call(t, cs, mcp.ToolCheckRequest, map[string]any{"id": denied.ID})
		var out mcp.RequestResult
		structured(t, res, &out)
		if out.Status != mcp.StatusDenied || out.DecidedByType != "policy" || out.DecidedAt == "" {
			t.Errorf("check = %+v", out)
		}
		if !strings.Contains(text(res), "do not perform auto.no") {
			t.Errorf("text = %q", text(res))
		}

		res = call(t, cs, mcp.ToolCheckRequest, map[string]any{"id": "req_nope"})
		if !res.IsError || !strings.Contains(text(res), "not found") {
			t.Errorf("unknown id: isError=%v text=%q", res.IsError, text(res))
		}

		res = call(t, cs, mcp.ToolListRequests, map[string]any{"status": "denied", "limit": 1})
		var list mcp.ListResult
		structured(t, res, &list)
		if len(list.Requests) != 1 || list.Requests[0].Status != mcp.StatusDenied || list.Total < 1 {
			t.Errorf("list = %+v", list)
		}
		if !strings.HasPrefix(text(res), "1 of ") {
			t.Errorf("text = %q", text(res))
		}

		res = call(t, cs, mcp.ToolListRequests, map[string]any{"status": "maybe"})
		if !res.IsError {
			t.Errorf("a bad status is a tool error, got %q", text(res))
		}
	})
}

func TestToolsBadInput(t *testing.T) {
	t.Parallel()
	cs := connect(t, mcp.NewServer(&remote.Backend{}, nil), nil)
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{mcp.ToolRequestApproval, map[string]any{}},
		{mcp.ToolRequestApproval, map[string]any{"action": ""}},
		{mcp.ToolRequestApproval, map[string]any{"action": "x", "urgency": "whenever"}},
		{mcp.ToolRequestApproval, map[string]any{"action": "x", "params": "not an object"}},
		{mcp.ToolRequestApproval, map[string]any{"action": "x", "wait_seconds": -1}},
		{mcp.ToolWaitForDecision, map[string]any{"timeout_seconds": 3}},
		{mcp.ToolCheckRequest, map[string]any{"id": 7}},
	} {
		res := call(t, cs, tc.tool, tc.args)
		if !res.IsError {
			t.Errorf("%s %v: want a tool error, got %q", tc.tool, tc.args, text(res))
		}
	}
}

func TestServiceBackendScopes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.srv.CreateKey(t, "create-only", auth.ScopeRequestCreate)
	p, err := b.srv.App.Auth.Authenticate(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	cs := connect(t, mcp.NewServer(&mcp.ServiceBackend{Approvals: b.srv.App.Approvals, Principal: p}, nil), nil)
	var out mcp.RequestResult
	structured(t, call(t, cs, mcp.ToolRequestApproval, map[string]any{"action": "auto.ok"}), &out)
	if out.Status != mcp.StatusApproved {
		t.Fatalf("request_approval = %+v", out)
	}
	// Without any principal (none given, none in the context) nothing is allowed.
	anon := connect(t, mcp.NewServer(&mcp.ServiceBackend{Approvals: b.srv.App.Approvals}, nil), nil)
	if res := call(t, anon, mcp.ToolRequestApproval, map[string]any{"action": "auto.ok"}); !res.IsError ||
		!strings.Contains(text(res), `lacks the "request:create" scope`) {
		t.Errorf("no principal: isError=%v text=%q", res.IsError, text(res))
	}
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{mcp.ToolCheckRequest, map[string]any{"id": out.ID}},
		{mcp.ToolListRequests, map[string]any{}},
		{mcp.ToolWaitForDecision, map[string]any{"id": out.ID}},
	} {
		res := call(t, cs, tc.tool, tc.args)
		if !res.IsError || !strings.Contains(text(res), `lacks the "request:read" scope`) {
			t.Errorf("%s: isError=%v text=%q", tc.tool, res.IsError, text(res))
		}
	}
}

func TestToolsUnavailable(t *testing.T) {
	t.Parallel()
	c := newClient(t, "http://127.0.0.1:1", "agk_"+strings.Repeat("A", 43))
	cs := connect(t, mcp.NewServer(&remote.Backend{C: c}, nil), nil)
	res := call(t, cs, mcp.ToolRequestApproval, map[string]any{"action": "x"})
	if !res.IsError || !strings.Contains(text(res), "do not act") {
		t.Errorf("isError=%v text=%q", res.IsError, text(res))
	}
}

// TestToolsHeartbeatAsLog: without a progress token, a waiting call's
// heartbeats are info log messages, for clients that asked for logs.
func TestToolsHeartbeatAsLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	logs := make(chan *sdk.LoggingMessageParams, 100)
	cs := connect(t, mcp.NewServer(&remote.Backend{C: b.agent}, &mcp.ServerOptions{Heartbeat: 20 * time.Millisecond}),
		&sdk.ClientOptions{LoggingMessageHandler: func(_ context.Context, req *sdk.LoggingMessageRequest) { logs <- req.Params }})
	// The client asks for logs the 2026-07-28 way: a level in the call's _meta.
	res, err := cs.CallTool(testCtx(t), &sdk.CallToolParams{Name: mcp.ToolRequestApproval,
		Arguments: map[string]any{"action": "deploy.logs", "wait_seconds": 1},
		Meta:      sdk.Meta{sdk.MetaKeyLogLevel: "info"}})
	if err != nil {
		t.Fatal(err)
	}
	var out mcp.RequestResult
	structured(t, res, &out)
	select {
	case l := <-logs:
		if l.Level != "info" || !strings.Contains(fmt.Sprint(l.Data), "waiting for a decision on "+out.ID) {
			t.Errorf("log = %+v", l)
		}
	case <-testCtx(t).Done():
		t.Fatal("no heartbeat log arrived during a 1s wait")
	}
}
