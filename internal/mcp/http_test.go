package mcp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/httpapi"
	"github.com/agentgate/agentgate/internal/mcp"
)

// bearer adds an API key to every request.
type bearer struct {
	key string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

// httpSession connects an MCP client to endpoint with key.
func httpSession(t testing.TB, endpoint, key string, opts *sdk.ClientOptions) *sdk.ClientSession {
	t.Helper()
	tr := &sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: bearer{key}}, MaxRetries: -1}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "http-client", Version: "2.0"}, opts).Connect(testCtx(t), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// TestHTTPEndpoint drives the server's own /mcp (the app's wiring) with
// the SDK's streamable HTTP client.
func TestHTTPEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cs := httpSession(t, b.srv.URL+"/mcp", b.agentKey, nil)
	tools, err := cs.ListTools(testCtx(t), nil)
	if err != nil || len(tools.Tools) != 4 {
		t.Fatalf("tools = %v, %v", tools, err)
	}
	var out mcp.RequestResult
	structured(t, call(t, cs, mcp.ToolRequestApproval, map[string]any{"action": "auto.ok"}), &out)
	if out.Status != mcp.StatusApproved {
		t.Fatalf("request_approval = %+v", out)
	}
	// The request belongs to the key that called /mcp, so that key can
	// never decide it.
	r, err := b.admin.Get(testCtx(t), out.ID)
	if err != nil || r.Agent.Name != "agent" {
		t.Errorf("request = %+v, %v", r, err)
	}
}

// TestHTTPWaitStreamsProgress: over stateless streamable HTTP, a waiting
// call streams its heartbeats on the POST's own event stream.
func TestHTTPWaitStreamsProgress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	api := httpapi.New(httpapi.Config{}, httpapi.Deps{Approvals: b.srv.App.Approvals, Auth: b.srv.App.Auth})
	for _, rt := range mcp.Routes(b.srv.App.Approvals, mcp.HTTPOptions{Heartbeat: 20 * time.Millisecond}) {
		api.Handle(rt)
	}
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)

	progress := newProgressLog()
	cs := httpSession(t, hs.URL+"/mcp", b.agentKey, &sdk.ClientOptions{ProgressNotificationHandler: progress.handler})
	var asked mcp.RequestResult
	structured(t, call(t, cs, mcp.ToolRequestApproval, map[string]any{"action": "deploy.http"}), &asked)
	done := make(chan *sdk.CallToolResult, 1)
	go func() {
		params := &sdk.CallToolParams{Name: mcp.ToolWaitForDecision, Arguments: map[string]any{"id": asked.ID, "timeout_seconds": 30}}
		params.SetProgressToken("p")
		res, err := cs.CallTool(testCtx(t), params)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	progress.wait(t, 2)
	b.decide(t, asked.ID, false, "not over HTTP")
	res := <-done
	if res == nil {
		t.FailNow()
	}
	if !strings.HasPrefix(text(res), "denied by test-admin: not over HTTP — do not perform deploy.http") {
		t.Errorf("text = %q", text(res))
	}
}

func TestHTTPAuthAndMethods(t *testing.T) {
	t.Parallel()
	b := setup(t)
	readOnly := b.srv.CreateKey(t, "reader", auth.ScopeRequestRead)
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`
	cases := []struct {
		name       string
		method     string
		key        string
		host       string
		wantStatus int
		wantBody   string
	}{
		{"no key", "POST", "", "", 401, `{"error":`},
		{"unknown key", "POST", "agk_" + strings.Repeat("Z", 43), "", 401, `{"error":`},
		{"key without request:create", "POST", readOnly, "", 403, `request:create`},
		{"GET (stateless: no stream)", "GET", b.agentKey, "", 405, `{"error":`},
		{"DELETE", "DELETE", b.agentKey, "", 405, `{"error":`},
		{"initialize", "POST", b.agentKey, "", 200, `"serverInfo":{"name":"agentgate"`},
		// Behind a reverse proxy on the same host the Host header is the
		// public name; the key, not the Host, protects the endpoint.
		{"initialize via a reverse proxy", "POST", b.agentKey, "agentgate.example.com", 200, `"protocolVersion":"2025-06-18"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(testCtx(t), tc.method, b.srv.URL+"/mcp", strings.NewReader(initialize))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("%s /mcp = %d %s, want %d containing %s", tc.method, resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if resp.Header.Get("Mcp-Session-Id") != "" {
				t.Errorf("a stateless endpoint set Mcp-Session-Id")
			}
		})
	}
}

// TestHTTPNoSessionAffinity: two calls of one client may land on any
// replica; here, each POST is served by a fresh server and still works,
// including a call that names a request created by an earlier POST.
func TestHTTPNoSessionAffinity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	post := func(body string) string {
		req, _ := http.NewRequestWithContext(testCtx(t), "POST", b.srv.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+b.agentKey)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return string(data)
	}
	// No initialize first: a stateless server accepts any call on its own.
	first := post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"request_approval","arguments":{"action":"auto.no"}}}`)
	i := strings.Index(first, "req_")
	if i < 0 {
		t.Fatalf("first call: %s", first)
	}
	id := first[i : i+strings.IndexAny(first[i:], `"\] `)]
	second := post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"check_request","arguments":{"id":` + string(mustJSON(t, id)) + `}}}`)
	if !strings.Contains(second, `denied by policy`) {
		t.Errorf("second call: %s", second)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
