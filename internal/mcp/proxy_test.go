package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/mcp"
	"github.com/agentgate/agentgate/internal/mcp/remote"
)

func TestProxyReexposesTools(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := newUpstream()
	_, cs := gateway(t, u, mcp.ProxyOptions{Backend: &remote.Backend{C: b.agent}}, nil)

	want, err := direct(t, u).ListTools(testCtx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cs.ListTools(testCtx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Names, titles, descriptions, schemas and annotations, unchanged.
	sortTools := cmp.Transformer("sort", func(ts []*sdk.Tool) map[string]*sdk.Tool {
		m := map[string]*sdk.Tool{}
		for _, t := range ts {
			m[t.Name] = t
		}
		return m
	})
	if d := cmp.Diff(want.Tools, got.Tools, sortTools); d != "" {
		t.Errorf("tools through the gateway differ (-direct +gateway):\n%s", d)
	}
	ir := cs.InitializeResult()
	if ir == nil || ir.ServerInfo.Name != "test-upstream" || ir.ServerInfo.Title != "Test upstream (via AgentGate)" || ir.Instructions != "use read_thing to read" {
		t.Errorf("initialize result = %+v", ir)
	}
}

func TestProxyAutoApproved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := newUpstream()
	_, cs := gateway(t, u, mcp.ProxyOptions{Backend: &remote.Backend{C: b.agent}}, nil)

	args := map[string]any{"path": "a.txt"}
	got := call(t, cs, "read_thing", args)
	want := call(t, direct(t, u), "read_thing", args)
	if d := cmp.Diff(jsonOf(t, want), jsonOf(t, got)); d != "" {
		t.Errorf("result through the gateway differs (-direct +gateway):\n%s", d)
	}
	if calls := u.called(); len(calls) != 2 || calls[0].Args != `{"path":"a.txt"}` {
		t.Errorf("upstream calls = %+v", calls)
	}

	// The approval request says what was called, by whom, and how the
	// upstream describes the tool.
	page, err := b.admin.ListPage(testCtx(t), clientList("mcp.test.read_thing"))
	if err != nil || len(page.Requests) != 1 {
		t.Fatalf("requests: %v %v", page, err)
	}
	r := page.Requests[0]
	if r.Status != "approved" || string(r.Params) != `{"path":"a.txt"}` {
		t.Errorf("request = %+v", r)
	}
	var c struct {
		MCP struct {
			Gateway     string         `json:"gateway"`
			Tool        string         `json:"tool"`
			Client      map[string]any `json:"client"`
			Server      map[string]any `json:"server"`
			Annotations map[string]any `json:"annotations"`
		} `json:"mcp"`
	}
	if err := r.DecodeContext(&c); err != nil {
		t.Fatal(err)
	}
	if c.MCP.Gateway != "test" || c.MCP.Tool != "read_thing" || c.MCP.Client["name"] != "test-client" || c.MCP.Client["version"] != "1.2.3" ||
		c.MCP.Server["name"] != "test-upstream" || c.MCP.Annotations["readOnlyHint"] != true {
		t.Errorf("context = %s", r.Context)
	}
}

func TestProxyWaitsForAPerson(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name     string
		approve  bool
		wantErr  bool
		wantText string
	}{
		{"approved", true, false, "wrote 5 bytes to b.txt"},
		{"denied", false, true, "AgentGate: denied by test-admin: not today; the call to write_thing was not executed [req_"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream()
			progress := newProgressLog()
			_, cs := gateway(t, u, mcp.ProxyOptions{Backend: &remote.Backend{C: b.agent}, Heartbeat: 20 * time.Millisecond},
				&sdk.ClientOptions{ProgressNotificationHandler: progress.handler})
			pending := b.watchPending(t, "mcp.test.write_thing")
			done := make(chan *sdk.CallToolResult, 1)
			go func() {
				params := &sdk.CallToolParams{Name: "write_thing", Arguments: map[string]any{"path": "b.txt", "content": "hello"}}
				params.SetProgressToken(7)
				res, err := cs.CallTool(testCtx(t), params)
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			r := pending()
			progress.wait(t, 1) // the call is held, and the client hears about it
			if calls := u.called(); len(calls) != 0 {
				t.Fatalf("the upstream was called before the decision: %+v", calls)
			}
			b.decide(t, r.ID, tc.approve, "not today")
			res := <-done
			if res == nil {
				t.FailNow()
			}
			if res.IsError != tc.wantErr || !strings.HasPrefix(text(res), tc.wantText) {
				t.Errorf("result: isError=%v text=%q, want %v %q", res.IsError, text(res), tc.wantErr, tc.wantText)
			}
			calls := u.called()
			if tc.approve && (len(calls) != 1 || calls[0].Args != `{"content":"hello","path":"b.txt"}`) {
				t.Errorf("upstream calls = %+v", calls)
			}
			if !tc.approve && len(calls) != 0 {
				t.Errorf("a denied call reached the upstream: %+v", calls)
			}
			for _, p := range progress.all() {
				if p.ProgressToken != float64(7) || !strings.Contains(p.Message, r.ID) {
					t.Errorf("progress = %+v", p)
				}
			}
		})
	}
}

func TestProxyRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	unreachable := newClient(t, "http://127.0.0.1:1", "agk_"+strings.Repeat("A", 43))
	cases := []struct {
		name     string
		o        mcp.ProxyOptions
		tool     string
		wantText string
	}{
		{"policy denies", mcp.ProxyOptions{Backend: &remote.Backend{C: b.agent}}, "forbidden", "AgentGate: denied by policy"},
		{"nobody decides in time", mcp.ProxyOptions{Backend: &remote.Backend{C: b.agent}, MaxWait: 200 * time.Millisecond},
			"write_thing", "AgentGate: no decision on write_thing within 200ms; the call was not executed"},
		{"AgentGate unreachable", mcp.ProxyOptions{Backend: &remote.Backend{C: unreachable}},
			"write_thing", "AgentGate could not be asked for approval"},
		{"revoked key, even with fail-open", mcp.ProxyOptions{Backend: &remote.Backend{C: newClient(t, b.srv.URL, "agk_"+strings.Repeat("B", 43))}, FailOpen: true},
			"write_thing", "AgentGate could not be asked for approval (AgentGate answered 401"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream()
			_, cs := gateway(t, u, tc.o, nil)
			res := call(t, cs, tc.tool, map[string]any{"path": "x", "content": "y"})
			if !res.IsError || !strings.HasPrefix(text(res), tc.wantText) {
				t.Errorf("isError=%v text=%q, want prefix %q", res.IsError, text(res), tc.wantText)
			}
			if calls := u.called(); len(calls) != 0 {
				t.Errorf("a refused call reached the upstream: %+v", calls)
			}
		})
	}
}

// fakeAgentGate answers the two calls the gateway makes for a call that a
// person approved with edited params.
func fakeAgentGate(t *testing.T, approved string) *httptest.Server {
	t.Helper()
	req := func(status, extra string) string {
		return `{"id":"req_1","action":"mcp.test.write_thing","params":{"path":"b.txt","content":"asked"},"context":{},` +
			`"status":"` + status + `","urgency":"normal","createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z",` +
			`"policyDecision":{"decision":"route_to_human","ruleIndex":null,"reason":"no policy matched"},"agent":{"id":"key_1","name":"agent"}` + extra + `}`
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/requests", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(req("pending", "")))
	})
	mux.HandleFunc("GET /api/requests/req_1/wait", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(req("approved", `,"decidedBy":"alice","decidedByType":"human","approvedParams":`+approved)))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// TestProxyForwardsApprovedParams: when an approver edited the params, the
// upstream gets the edited ones, not the call's.
func TestProxyForwardsApprovedParams(t *testing.T) {
	t.Parallel()
	fake := fakeAgentGate(t, `{"path":"safe/b.txt","content":"edited"}`)
	u := newUpstream()
	_, cs := gateway(t, u, mcp.ProxyOptions{Backend: &remote.Backend{C: newClient(t, fake.URL, "agk_"+strings.Repeat("A", 43))}}, nil)
	res := call(t, cs, "write_thing", map[string]any{"path": "b.txt", "content": "asked"})
	if res.IsError || text(res) != "wrote 6 bytes to safe/b.txt" {
		t.Errorf("isError=%v text=%q", res.IsError, text(res))
	}
	if calls := u.called(); len(calls) != 1 || calls[0].Args != `{"path":"safe/b.txt","content":"edited"}` {
		t.Errorf("upstream calls = %+v", calls)
	}
}

// fakeBackend is a Backend whose Request answers come from a function.
type fakeBackend struct {
	RequestFunc func(ctx context.Context, in mcp.Ask) (*mcp.Request, error)
}

func (f *fakeBackend) Request(ctx context.Context, in mcp.Ask) (*mcp.Request, error) {
	return f.RequestFunc(ctx, in)
}
func (f *fakeBackend) Get(context.Context, string) (*mcp.Request, error) { panic("unexpected Get") }
func (f *fakeBackend) List(context.Context, string, int) ([]*mcp.Request, int64, error) {
	panic("unexpected List")
}
func (f *fakeBackend) Wait(context.Context, string, time.Duration) (*mcp.Request, error) {
	panic("unexpected Wait")
}

// TestProxyFailOpen: with --fail-open, a call AgentGate cannot be asked
// about goes through, and is recorded in AgentGate once it answers again.
func TestProxyFailOpen(t *testing.T) {
	t.Parallel()
	up := make(chan bool, 1)
	up <- false
	records := make(chan mcp.Ask, 10)
	fb := &fakeBackend{RequestFunc: func(ctx context.Context, in mcp.Ask) (*mcp.Request, error) {
		isUp := <-up
		up <- isUp
		if !isUp {
			return nil, errors.Join(mcp.ErrUnavailable, errors.New("connection refused"))
		}
		if strings.Contains(string(in.Context), "failOpen") {
			records <- in
		}
		return &mcp.Request{ID: "req_r", Action: in.Action, Status: mcp.StatusApproved, Params: in.Params}, nil
	}}
	u := newUpstream()
	_, cs := gateway(t, u, mcp.ProxyOptions{Backend: fb, FailOpen: true, RecordRetry: time.Hour}, nil)

	res := call(t, cs, "write_thing", map[string]any{"path": "c.txt", "content": "while down"})
	if res.IsError || text(res) != "wrote 10 bytes to c.txt" {
		t.Fatalf("fail-open call: isError=%v text=%q", res.IsError, text(res))
	}
	select {
	case r := <-records:
		t.Fatalf("recorded while AgentGate was down: %+v", r)
	default:
	}

	<-up
	up <- true
	// The next answer from AgentGate triggers the record of the earlier call.
	call(t, cs, "read_thing", map[string]any{"path": "d.txt"})
	select {
	case r := <-records:
		var c struct {
			MCP struct {
				Tool     string `json:"tool"`
				FailOpen struct {
					ExecutedAt string `json:"executedAt"`
					Error      string `json:"error"`
				} `json:"failOpen"`
			} `json:"mcp"`
		}
		if err := json.Unmarshal(r.Context, &c); err != nil {
			t.Fatal(err)
		}
		if r.Action != "mcp.test.write_thing" || string(r.Params) != `{"content":"while down","path":"c.txt"}` || r.Urgency != "high" ||
			c.MCP.Tool != "write_thing" || c.MCP.FailOpen.ExecutedAt == "" || !strings.Contains(c.MCP.FailOpen.Error, "connection refused") {
			t.Errorf("record = %+v context %s", r, r.Context)
		}
	case <-testCtx(t).Done():
		t.Fatal("the fail-open call was never recorded")
	}
	if calls := u.called(); len(calls) != 2 {
		t.Errorf("upstream calls = %+v", calls)
	}
}

func TestProxyPassesResourcesAndPrompts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := newUpstream()
	_, cs := gateway(t, u, mcp.ProxyOptions{Backend: &remote.Backend{C: b.agent}}, nil)
	ctx := testCtx(t)
	rs, err := cs.ListResources(ctx, nil)
	if err != nil || len(rs.Resources) != 1 || rs.Resources[0].URI != "test://readme" {
		t.Fatalf("resources = %+v, %v", rs, err)
	}
	rr, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "test://readme"})
	if err != nil || len(rr.Contents) != 1 || rr.Contents[0].Text != "read me" {
		t.Fatalf("read = %+v, %v", rr, err)
	}
	ps, err := cs.ListPrompts(ctx, nil)
	if err != nil || len(ps.Prompts) != 1 || ps.Prompts[0].Name != "greet" {
		t.Fatalf("prompts = %+v, %v", ps, err)
	}
	gp, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "greet"})
	if err != nil || len(gp.Messages) != 1 {
		t.Fatalf("prompt = %+v, %v", gp, err)
	}
}

func TestProxyFollowsToolListChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := newUpstream()
	changed := make(chan struct{}, 10)
	_, cs := gateway(t, u, mcp.ProxyOptions{Backend: &remote.Backend{C: b.agent}},
		&sdk.ClientOptions{ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) { changed <- struct{}{} }})
	names := func() map[string]bool {
		res, err := cs.ListTools(testCtx(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, tool := range res.Tools {
			m[tool.Name] = true
		}
		return m
	}
	u.srv.AddTool(&sdk.Tool{Name: "added_later", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return &sdk.CallToolResult{}, nil
		})
	u.srv.RemoveTools("forbidden")
	for {
		n := names()
		if n["added_later"] && !n["forbidden"] {
			break
		}
		select {
		case <-changed:
		case <-testCtx(t).Done():
			t.Fatalf("the gateway's tools did not follow the upstream's: %v", n)
		}
	}
}

func TestProxyRelaysUpstreamProgress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := newUpstream()
	progress := newProgressLog()
	_, cs := gateway(t, u, mcp.ProxyOptions{Backend: &remote.Backend{C: b.agent}},
		&sdk.ClientOptions{ProgressNotificationHandler: progress.handler})
	u.release = make(chan struct{})
	params := &sdk.CallToolParams{Name: "slow", Arguments: map[string]any{}}
	params.SetProgressToken("mine")
	done := make(chan *sdk.CallToolResult, 1)
	go func() {
		res, err := cs.CallTool(testCtx(t), params)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	// Progress is relayed while the call runs. (What the upstream sends
	// just before its answer may be dropped: the SDK can deliver the
	// answer first, and nothing may follow the gateway's own answer.)
	progress.wait(t, 2)
	close(u.release)
	if res := <-done; res == nil || text(res) != "slow done" {
		t.Fatalf("slow: %v", res)
	}
	ps := progress.all()
	if len(ps) != 2 || ps[0].ProgressToken != "mine" || ps[0].Message != "step 1" || ps[1].Progress != 2 || ps[1].Total != 2 {
		t.Errorf("progress = %s", jsonOf(t, ps))
	}
}

func TestProxyName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "a.b", "white space", strings.Repeat("x", 65)} {
		ct, _ := sdk.NewInMemoryTransports()
		if _, err := mcp.NewProxy(testCtx(t), ct, mcp.ProxyOptions{Name: name, Backend: &fakeBackend{}}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}

func TestProxyPassesCompletions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := newUpstream()
	_, cs := gateway(t, u, mcp.ProxyOptions{Backend: &remote.Backend{C: b.agent}}, nil)
	ctx := testCtx(t)
	res, err := cs.Complete(ctx, &sdk.CompleteParams{Ref: &sdk.CompleteReference{Type: "ref/prompt", Name: "greet"},
		Argument: sdk.CompleteParamsArgument{Name: "who", Value: "wor"}})
	if err != nil || len(res.Completion.Values) != 1 || res.Completion.Values[0] != "wor-done" {
		t.Errorf("complete = %+v, %v", res, err)
	}
}

// TestProxyEndsWithUpstream: when the upstream server goes away, Run
// returns, so the command exits instead of serving a dead gateway.
func TestProxyEndsWithUpstream(t *testing.T) {
	t.Parallel()
	u := newUpstream()
	ct, st := sdk.NewInMemoryTransports()
	ss, err := u.srv.Connect(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mcp.NewProxy(testCtx(t), ct, mcp.ProxyOptions{Name: "test", Backend: &fakeBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	down, _ := sdk.NewInMemoryTransports()
	done := make(chan error, 1)
	go func() { done <- p.Run(testCtx(t), down) }()
	ss.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "upstream MCP server closed") {
			t.Errorf("Run = %v", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("Run did not return when the upstream went away")
	}
}

// TestProxyForwardsEditedParams: a person approves with edited params
// (edit-before-approve), and the upstream receives the edited ones, with
// either backend.
func TestProxyForwardsEditedParams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, backend := range map[string]mcp.Backend{
		"remote":     &remote.Backend{C: b.agent},
		"in process": &mcp.ServiceBackend{Approvals: b.srv.App.Approvals, Principal: b.principal},
	} {
		t.Run(name, func(t *testing.T) {
			u := newUpstream()
			_, cs := gateway(t, u, mcp.ProxyOptions{Backend: backend}, nil)
			pending := b.watchPending(t, "mcp.test.write_thing")
			done := make(chan *sdk.CallToolResult, 1)
			go func() {
				res, err := cs.CallTool(testCtx(t), &sdk.CallToolParams{Name: "write_thing", Arguments: map[string]any{"path": "/etc/passwd", "content": "x"}})
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			r := pending()
			body := `{"decision":"approved","reason":"only in tmp","params":{"path":"/tmp/x","content":"x"}}`
			req, _ := http.NewRequestWithContext(testCtx(t), "POST", b.srv.URL+"/api/requests/"+r.ID+"/decide", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+b.srv.AdminKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("decide with params: %v %v", resp, err)
			}
			resp.Body.Close()
			res := <-done
			if res == nil || res.IsError || text(res) != "wrote 1 bytes to /tmp/x" {
				t.Fatalf("result: %v", res)
			}
			if calls := u.called(); len(calls) != 1 || calls[0].Args != `{"path":"/tmp/x","content":"x"}` {
				t.Errorf("upstream calls = %+v", calls)
			}
		})
	}
}

// TestProxyPolicyOnAnnotations: the documented rule that trusts the
// upstream's readOnlyHint approves reads and leaves writes to a person.
func TestProxyPolicyOnAnnotations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.admin.CreatePolicy(testCtx(t), client.PolicyInput{Name: "read-only tools", Priority: new(1), Rules: []client.Rule{{
		Match:    map[string]any{"action": map[string]any{"$glob": "mcp.*"}, "context.mcp.annotations.readOnlyHint": true},
		Decision: client.DecisionAutoApprove,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	u := newUpstream()
	_, cs := gateway(t, u, mcp.ProxyOptions{Name: "ro", Backend: &remote.Backend{C: b.agent}, MaxWait: 100 * time.Millisecond}, nil)
	if res := call(t, cs, "read_thing", map[string]any{"path": "a"}); res.IsError {
		t.Errorf("read_thing: %s", text(res))
	}
	if res := call(t, cs, "write_thing", map[string]any{"path": "a", "content": "b"}); !res.IsError || !strings.Contains(text(res), "no decision") {
		t.Errorf("write_thing: isError=%v %s", res.IsError, text(res))
	}
	if calls := u.called(); len(calls) != 1 || calls[0].Tool != "read_thing" {
		t.Errorf("upstream calls = %+v", calls)
	}
}

// TestDocsPolicyExamples: the policies in docs/mcp.md are accepted by the
// server as written.
func TestDocsPolicyExamples(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc, err := os.ReadFile("../../docs/mcp.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)[strings.Index(string(doc), "### Policies for the gateway"):]
	section = section[:strings.Index(section, "### Outcomes")]
	blocks := strings.Split(section, "```json\n")[1:]
	if len(blocks) != 2 {
		t.Fatalf("want 2 JSON examples, found %d", len(blocks))
	}
	for i, blk := range blocks {
		body := blk[:strings.Index(blk, "```")]
		if i == 1 { // a single rule: wrap it in a policy
			body = `{"name":"annotations","rules":[` + body + `]}`
		}
		var in client.PolicyInput
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatalf("example %d is not JSON: %v\n%s", i, err, body)
		}
		if _, err := b.admin.CreatePolicy(testCtx(t), in); err != nil {
			t.Errorf("example %d refused: %v", i, err)
		}
	}
}
