package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentgate/agentgate/client"
)

// The test binary doubles as a small third-party MCP server on stdio when
// AGENTGATE_TEST_MCP_UPSTREAM=1, so the gateway tests run a real child
// process without needing Node.
func init() {
	if os.Getenv("AGENTGATE_TEST_MCP_UPSTREAM") == "1" {
		runTestUpstream()
		os.Exit(0)
	}
}

type echoArgs struct {
	Text string `json:"text"`
}

func runTestUpstream() {
	s := sdk.NewServer(&sdk.Implementation{Name: "echo-upstream", Version: "1.0.0"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "Echo the text.", Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, req *sdk.CallToolRequest, in echoArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: in.Text}}}, nil, nil
		})
	sdk.AddTool(s, &sdk.Tool{Name: "secret_env", Description: "Show what the server sees of AgentGate's key."},
		func(ctx context.Context, req *sdk.CallToolRequest, in struct{}) (*sdk.CallToolResult, any, error) {
			text := fmt.Sprintf("key=%q", os.Getenv("AGENTGATE_API_KEY"))
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}}, nil, nil
		})
	_ = s.Run(context.Background(), &sdk.StdioTransport{})
}

// mcpEnv is a running server with an admin client and an agent key.
type mcpEnv struct {
	p        *proc
	admin    *client.Client
	agentKey string
}

func startMCPEnv(t *testing.T) *mcpEnv {
	t.Helper()
	adminKey := "a-long-admin-secret-for-mcp"
	p := startServer(t, freePort(t), "DATABASE_URL="+filepath.Join(t.TempDir(), "mcp.db"), "ADMIN_API_KEY="+adminKey)
	admin, err := client.New(p.url, adminKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k, err := admin.CreateKey(ctx, client.KeyInput{Name: "agent", Scopes: []client.Scope{client.ScopeRequestCreate, client.ScopeRequestRead}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.CreatePolicy(ctx, client.PolicyInput{Name: "gateway", Rules: []client.Rule{
		{Match: map[string]any{"action": "mcp.echo.echo"}, Decision: client.DecisionAutoApprove},
		{Match: map[string]any{"action": "mcp.remote.list_requests"}, Decision: client.DecisionAutoApprove},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return &mcpEnv{p: p, admin: admin, agentKey: k.Secret}
}

// session runs `agentgate args...` as an MCP server on stdio with env.
func (e *mcpEnv) session(t *testing.T, url string, env []string, args ...string) (*sdk.ClientSession, *exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), append([]string{"AGENTGATE_URL=" + url, "AGENTGATE_API_KEY=" + e.agentKey}, env...)...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "binary-test", Version: "1"}, nil).Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("agentgate %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	t.Cleanup(func() { cs.Close() })
	return cs, cmd, stderr
}

func callTool(t *testing.T, cs *sdk.ClientSession, name string, args any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n"), res.IsError
}

var reqIDRE = regexp.MustCompile(`req_[0-9a-f-]{36}`)

// TestMCPStdioServer runs `agentgate mcp` as an MCP client would: ask,
// a person approves over the API, the agent's wait returns approved; the
// process exits cleanly when the client closes stdin.
func TestMCPStdioServer(t *testing.T) {
	e := startMCPEnv(t)
	cs, cmd, stderr := e.session(t, e.p.url, nil, "mcp")
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil || len(tools.Tools) != 4 {
		t.Fatalf("tools: %v %v", tools, err)
	}
	text, isErr := callTool(t, cs, "request_approval", map[string]any{"action": "deploy", "params": map[string]any{"env": "prod"}})
	id := reqIDRE.FindString(text)
	if isErr || id == "" || !strings.HasPrefix(text, "pending") {
		t.Fatalf("request_approval: %q", text)
	}
	if _, err := e.admin.Decide(context.Background(), id, client.DecideInput{Decision: client.StatusApproved, Reason: "ship it"}); err != nil {
		t.Fatal(err)
	}
	text, _ = callTool(t, cs, "wait_for_decision", map[string]any{"id": id, "timeout_seconds": 10})
	if !strings.HasPrefix(text, "approved by admin") || !strings.Contains(text, ": ship it") {
		t.Errorf("wait_for_decision: %q", text)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		t.Errorf("agentgate mcp did not exit cleanly: %v\nstderr:\n%s", cmd.ProcessState, stderr.String())
	}
	if strings.Contains(stderr.String(), e.agentKey) {
		t.Error("the API key appears on stderr")
	}
}

// TestMCPProxyStdio runs `agentgate mcp proxy` in front of a real child
// process: an auto-approved call goes through, another waits for a
// person, and the child never sees AgentGate's key.
func TestMCPProxyStdio(t *testing.T) {
	e := startMCPEnv(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cs, _, stderr := e.session(t, e.p.url, []string{"AGENTGATE_TEST_MCP_UPSTREAM=1"}, "mcp", "proxy", "--name", "echo", "--", self)
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil || len(tools.Tools) != 2 {
		t.Fatalf("tools: %v %v\nstderr:\n%s", tools, err, stderr.String())
	}
	if text, isErr := callTool(t, cs, "echo", map[string]any{"text": "hello"}); isErr || text != "hello" {
		t.Errorf("echo: %q %v", text, isErr)
	}

	done := make(chan string, 1)
	go func() {
		text, _ := callTool(t, cs, "secret_env", map[string]any{})
		done <- text
	}()
	r := waitForPending(t, e.admin, "mcp.echo.secret_env")
	if _, err := e.admin.Decide(context.Background(), r.ID, client.DecideInput{Decision: client.StatusApproved}); err != nil {
		t.Fatal(err)
	}
	if text := <-done; text != `key=""` {
		t.Errorf("the upstream saw AgentGate's key: %s", text)
	}
	if strings.Contains(stderr.String(), e.agentKey) {
		t.Error("the API key appears on stderr")
	}
}

// waitForPending polls for a pending request with action (a tool call in
// another goroutine creates it).
func waitForPending(t *testing.T, c *client.Client, action string) *client.Request {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ev, err := range c.Events(ctx, client.EventsOptions{Action: []string{action}, Status: []client.Status{client.StatusPending}, LastEventID: "1"}) {
		if err != nil {
			t.Fatal(err)
		}
		return ev.Request
	}
	t.Fatalf("no pending %s request", action)
	return nil
}

// TestMCPProxyUnreachable: with AgentGate down, calls are refused; with
// --fail-open they go through, with a warning at start and per call.
func TestMCPProxyUnreachable(t *testing.T) {
	e := &mcpEnv{agentKey: "agk_" + strings.Repeat("A", 43)}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	upstream := []string{"AGENTGATE_TEST_MCP_UPSTREAM=1"}

	cs, _, _ := e.session(t, dead, upstream, "mcp", "proxy", "--name", "echo", "--", self)
	if text, isErr := callTool(t, cs, "echo", map[string]any{"text": "hi"}); !isErr || !strings.Contains(text, "fail closed") {
		t.Errorf("fail closed: %q %v", text, isErr)
	}

	cs, _, stderr := e.session(t, dead, upstream, "mcp", "proxy", "--name", "echo", "--fail-open", "--", self)
	if text, isErr := callTool(t, cs, "echo", map[string]any{"text": "hi"}); isErr || text != "hi" {
		t.Errorf("fail open: %q %v", text, isErr)
	}
	for _, want := range []string{"WARNING: --fail-open is on", "FAIL-OPEN: AgentGate is unreachable; forwarding the call WITHOUT approval"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestMCPProxyRemoteUpstream puts a remote streamable-HTTP MCP server
// behind the gateway: AgentGate's own /mcp, reached with a Bearer header.
func TestMCPProxyRemoteUpstream(t *testing.T) {
	e := startMCPEnv(t)
	cs, _, stderr := e.session(t, e.p.url, nil, "mcp", "proxy", "--name", "remote",
		"--upstream", e.p.url+"/mcp", "--header", "Authorization: Bearer "+e.agentKey)
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil || len(tools.Tools) != 4 {
		t.Fatalf("tools: %v %v\nstderr:\n%s", tools, err, stderr.String())
	}
	text, isErr := callTool(t, cs, "list_requests", map[string]any{})
	// The gateway's own approval request is the one request listed.
	if isErr || !strings.HasPrefix(text, "1 of 1 requests") || !strings.Contains(text, "mcp.remote.list_requests: approved by policy") {
		t.Errorf("list_requests through the gateway: %q %v", text, isErr)
	}
}

func TestMCPProxyUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"mcp", "proxy", "--", "cat"}, 2, "--name is required"},
		{[]string{"mcp", "proxy", "--name", "x"}, 2, "give the MCP server to put behind approval"},
		{[]string{"mcp", "proxy", "--name", "x", "--upstream", "http://a", "--", "cat"}, 2, "not both"},
		{[]string{"mcp", "proxy", "--name", "x", "cat"}, 2, "put the MCP server's command after --"},
		{[]string{"mcp", "proxy", "--name", "x", "--upstream", "http://a", "--header", "nocolon"}, 2, `want "Name: value"`},
		{[]string{"mcp"}, 1, "an API key is required"},
	} {
		cmd := exec.Command(binPath, tc.args...)
		cmd.Env = append(os.Environ(), "AGENTGATE_API_KEY=")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("agentgate %v: %v\n%s\nwant exit %d and %q", tc.args, err, out, tc.code, tc.want)
		}
	}
}
