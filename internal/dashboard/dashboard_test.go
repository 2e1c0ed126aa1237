package dashboard_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/testserver"
)

// page is one answer of the dashboard.
type answer struct {
	status int
	header http.Header
	body   string
}

// client is a browser without JavaScript: it keeps the session cookie and
// does not follow redirects.
type client struct {
	t      testing.TB
	base   string
	cookie *http.Cookie
	hdr    map[string]string
}

func newClient(t testing.TB, srv *testserver.Server, key string) *client {
	c := &client{t: t, base: srv.URL}
	if key != "" {
		c.cookie = httpSignIn(t, srv.URL, key)
	}
	return c
}

func (c *client) do(method, path string, form url.Values, hdr ...string) answer {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	for k, v := range c.hdr {
		req.Header.Set(k, v)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *client) get(path string, hdr ...string) answer {
	c.t.Helper()
	return c.do("GET", path, nil, hdr...)
}
func (c *client) post(path string, form url.Values, hdr ...string) answer {
	c.t.Helper()
	return c.do("POST", path, form, hdr...)
}

type fixture struct {
	srv      *testserver.Server
	approver string // alice: request:decide + request:read
	agent    string // deploy-bot: request:create + request:read
}

func newFixture(t *testing.T, opts *testserver.Options) *fixture {
	t.Helper()
	srv := testserver.Start(t, opts)
	return &fixture{
		srv:      srv,
		approver: srv.CreateKey(t, "alice", auth.ScopeRequestDecide, auth.ScopeRequestRead),
		agent:    srv.CreateKey(t, "deploy-bot", auth.ScopeRequestCreate, auth.ScopeRequestRead),
	}
}

func (f *fixture) request(t *testing.T, body string) string {
	t.Helper()
	return createRequest(t, f.srv, f.agent, body)
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	createOnly := f.srv.CreateKey(t, "agent-only", auth.ScopeRequestCreate)
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantText   string
		wantTo     string
	}{
		{"no key", url.Values{}, 401, "Enter an API key", ""},
		{"unknown key", url.Values{"key": {auth.GenerateKey()}}, 401, "not valid", ""},
		{"not a key", url.Values{"key": {"hello"}}, 401, "not valid", ""},
		{"key without request:decide", url.Values{"key": {createOnly}}, 403, "lacks the &#34;request:decide&#34; scope", ""},
		{"approver", url.Values{"key": {f.approver}}, 303, "", "/"},
		{"approver with next", url.Values{"key": {f.approver}, "next": {"/history?status=denied"}}, 303, "", "/history?status=denied"},
		{"next to another site", url.Values{"key": {f.approver}, "next": {"//evil.example/x"}}, 303, "", "/"},
		{"next with a scheme", url.Values{"key": {f.approver}, "next": {"https://evil.example/"}}, 303, "", "/"},
		{"next with a backslash", url.Values{"key": {f.approver}, "next": {"/\\evil.example"}}, 303, "", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newClient(t, f.srv, "").post("/signin", tt.form)
			if p.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", p.status, tt.wantStatus, p.body)
			}
			if tt.wantText != "" && !strings.Contains(p.body, tt.wantText) {
				t.Errorf("page lacks %q", tt.wantText)
			}
			if tt.wantTo != "" && p.header.Get("Location") != tt.wantTo {
				t.Errorf("Location %q, want %q", p.header.Get("Location"), tt.wantTo)
			}
			if tt.wantStatus != 303 && strings.Contains(p.header.Get("Set-Cookie"), "agentgate_session=") {
				t.Error("a failed sign-in set a session cookie")
			}
			if strings.Contains(p.body, tt.form.Get("key")) && tt.form.Get("key") != "" {
				t.Error("the page echoes the key")
			}
		})
	}
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		baseURL    string
		wantName   string
		wantSecure bool
	}{
		{"plain http", "", "agentgate_session", false},
		{"https public URL (TLS proxy)", "https://agentgate.example.com", "__Host-agentgate_session", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, &testserver.Options{Configure: func(c *config.Config) {
				c.BaseURL = tt.baseURL
				c.SessionTTL = 2 * time.Hour
			}})
			p := newClient(t, f.srv, "").post("/signin", url.Values{"key": {f.approver}})
			resp := http.Response{Header: p.header}
			cookies := resp.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies %v", cookies)
			}
			ck := cookies[0]
			if ck.Name != tt.wantName || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != tt.wantSecure || ck.Domain != "" {
				t.Errorf("cookie %+v", ck)
			}
			if ck.MaxAge < int((2*time.Hour-time.Minute).Seconds()) || ck.MaxAge > int((2*time.Hour).Seconds()) {
				t.Errorf("MaxAge %d, want about AGENTGATE_SESSION_TTL (2h)", ck.MaxAge)
			}
			if len(ck.Value) != 43 || auth.LooksLikeKey(ck.Value) {
				t.Errorf("cookie value %q is not an opaque 256-bit token", ck.Value)
			}
			// Only the token's hash is stored.
			sum := sha256.Sum256([]byte(ck.Value))
			var n int
			db := f.srv.App.Store.DB()
			if err := db.QueryRow(`SELECT count(*) FROM sessions WHERE id = $1`, hex.EncodeToString(sum[:])).Scan(&n); err != nil || n != 1 {
				t.Errorf("sessions with the token's hash: %d (%v)", n, err)
			}
			if err := db.QueryRow(`SELECT count(*) FROM sessions WHERE id = $1`, ck.Value).Scan(&n); err != nil || n != 0 {
				t.Errorf("the plain token is stored (%d, %v)", n, err)
			}
		})
	}
}

// TestSessionEnds checks that sign-out, revoking the key and taking its
// scope away each end the session at once.
func TestSessionEnds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	admin := f.srv.AdminKey
	keyID := func(name string) string {
		t.Helper()
		keys, err := f.srv.App.Auth.Keys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Name == name {
				return k.ID
			}
		}
		t.Fatalf("no key %s", name)
		return ""
	}
	tests := []struct {
		name string
		end  func(t *testing.T, c *client, key string)
	}{
		{"sign out", func(t *testing.T, c *client, _ string) {
			if p := c.post("/signout", url.Values{}); p.status != 303 || p.header.Get("Location") != "/signin?out=1" {
				t.Fatalf("sign out: %d %s", p.status, p.header.Get("Location"))
			}
		}},
		{"key revoked", func(t *testing.T, _ *client, name string) {
			if st, m := apiCall(t, "DELETE", f.srv.URL+"/api/keys/"+keyID(name), admin, ""); st != 200 {
				t.Fatalf("revoke: %d %v", st, m)
			}
		}},
		{"scope taken away", func(t *testing.T, _ *client, name string) {
			if st, m := apiCall(t, "PATCH", f.srv.URL+"/api/keys/"+keyID(name), admin, `{"scopes":["request:read"]}`); st != 200 {
				t.Fatalf("patch: %d %v", st, m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "person-" + strings.ReplaceAll(tt.name, " ", "-")
			key := f.srv.CreateKey(t, name, auth.ScopeRequestDecide)
			c := newClient(t, f.srv, key)
			if p := c.get("/"); p.status != 200 {
				t.Fatalf("queue before: %d", p.status)
			}
			tt.end(t, c, name)
			p := c.get("/")
			if p.status != 303 || !strings.HasPrefix(p.header.Get("Location"), "/signin?") {
				t.Fatalf("queue after: %d to %q, want a redirect to sign in", p.status, p.header.Get("Location"))
			}
			if p := c.post("/requests/x/decide", url.Values{"decision": {"approved"}}); p.status != 401 {
				t.Errorf("decide after: %d, want 401", p.status)
			}
		})
	}
}

// TestCrossOriginPostsRefused: a form another site submits with the
// session cookie is refused by CrossOriginProtection, and the request
// stays pending.
func TestCrossOriginPostsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := newClient(t, f.srv, f.approver)
	id := f.request(t, `{"action":"deploy"}`)
	form := url.Values{"decision": {"approved"}}
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "https://evil.example"},
	} {
		p := c.post("/requests/"+id+"/decide", form, hdr...)
		if p.status != http.StatusForbidden {
			t.Errorf("%s: %s: status %d, want 403", hdr[0], hdr[1], p.status)
		}
		if p := newClient(t, f.srv, "").post("/signin", url.Values{"key": {f.approver}}, hdr...); p.status != http.StatusForbidden {
			t.Errorf("sign-in with %s: %s: status %d, want 403", hdr[0], hdr[1], p.status)
		}
	}
	if r, err := f.srv.App.Approvals.Get(t.Context(), id); err != nil || r.Status != approval.StatusPending {
		t.Fatalf("after the cross-site posts: %v %v", r.Status, err)
	}
	// The same form from this site goes through.
	p := c.post("/requests/"+id+"/decide", form, "Sec-Fetch-Site", "same-origin", "Origin", f.srv.URL)
	if p.status != http.StatusSeeOther {
		t.Fatalf("same-origin decide: %d %s", p.status, p.body)
	}
	if r, _ := f.srv.App.Approvals.Get(t.Context(), id); r.Status != approval.StatusApproved || r.DecidedBy != "alice" {
		t.Fatalf("after the same-origin post: %s by %s", r.Status, r.DecidedBy)
	}
}

// TestDecide covers the decision form without JavaScript (redirects and
// error pages) and with it (JSON).
func TestDecide(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	admin := approval.Actor{ID: "test", Name: "test", Type: approval.ActorHuman}
	if _, err := f.srv.App.Approvals.CreatePolicy(t.Context(), admin, policy.Policy{Name: "reasons", Priority: 1, Enabled: true,
		Rules: []policy.Rule{{Match: map[string]any{"action": "deploy"}, Decision: policy.RouteToHuman, RequireReason: true}}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f.srv, f.approver)
	selfKey := f.srv.CreateKey(t, "self", auth.ScopeRequestCreate, auth.ScopeRequestDecide)
	own := newClient(t, f.srv, selfKey)
	ownReq := createRequest(t, f.srv, selfKey, `{"action":"send_email"}`)
	needsReason := f.request(t, `{"action":"deploy"}`)
	plain := f.request(t, `{"action":"send_email"}`)
	decided := f.request(t, `{"action":"send_email"}`)
	if p := c.post("/requests/"+decided+"/decide", url.Values{"decision": {"denied"}}); p.status != 303 {
		t.Fatalf("setup: %d", p.status)
	}
	tests := []struct {
		name     string
		c        *client
		id       string
		form     url.Values
		json     bool
		want     int
		wantText string
		wantTo   string
	}{
		{"missing required reason", c, needsReason, url.Values{"decision": {"approved"}}, false, 400, "a reason is required", ""},
		{"missing required reason (json)", c, needsReason, url.Values{"decision": {"approved"}}, true, 400, `"error":"a reason is required`, ""},
		{"bad decision", c, plain, url.Values{"decision": {"maybe"}}, false, 400, "decision must be", ""},
		{"unknown request", c, "req_nope", url.Values{"decision": {"approved"}}, false, 404, "Request not found", ""},
		{"already decided", c, decided, url.Values{"decision": {"approved"}}, true, 409, "already denied", ""},
		{"own request", own, ownReq, url.Values{"decision": {"approved"}}, false, 403, "cannot decide", ""},
		{"with reason", c, needsReason, url.Values{"decision": {"approved"}, "reason": {"ok"}, "next": {"/requests/" + plain}}, false, 303, "", "/requests/" + plain + "?toast=approved"},
		{"json", c, plain, url.Values{"decision": {"denied"}, "reason": {"no"}}, true, 200, `"status":"denied"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.json {
				hdr = []string{"Accept", "application/json"}
			}
			p := tt.c.post("/requests/"+tt.id+"/decide", tt.form, hdr...)
			if p.status != tt.want {
				t.Fatalf("status %d, want %d: %s", p.status, tt.want, p.body)
			}
			if tt.wantText != "" && !strings.Contains(p.body, tt.wantText) {
				t.Errorf("answer lacks %q: %s", tt.wantText, p.body)
			}
			if tt.wantTo != "" && p.header.Get("Location") != tt.wantTo {
				t.Errorf("Location %q, want %q", p.header.Get("Location"), tt.wantTo)
			}
		})
	}
}

var (
	styleAttr = regexp.MustCompile(`\sstyle=|<style`)
	eventAttr = regexp.MustCompile(`\son[a-z]+=`)
)

// TestPages opens every page with an admin session and checks the status,
// the headers and that no inline script or style slipped in (the CSP
// would block it).
func TestPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &testserver.Options{Configure: allowPrivateWebhooks})
	d := seedDemo(t, f.srv)
	c := newClient(t, f.srv, d.adminKey)
	hooks, err := f.srv.App.Webhooks.List(t.Context())
	if err != nil || len(hooks) == 0 {
		t.Fatalf("demo webhooks: %v", err)
	}
	polID := ""
	if ps, _ := f.srv.App.Approvals.Policies(t.Context()); len(ps) > 0 {
		polID = ps[0].ID
	}
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	for _, path := range []string{"/", "/?offset=100", "/requests/" + d.pending[0].ID, "/requests/" + d.decided[0].ID,
		"/history", "/history?status=denied&action=run_sql&from=2020-01-01&to=2099-12-31&decidedBy=bob", "/audit",
		"/audit?eventType=approved&actor=alice", "/policies", "/policies/new", "/policies/" + polID, "/keys", "/webhooks", "/webhooks/" + hooks[0].ID} {
		t.Run(path, func(t *testing.T) {
			p := c.get(path)
			if p.status != 200 {
				t.Fatalf("status %d: %s", p.status, p.body)
			}
			h := p.header
			for k, want := range map[string]string{
				"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
				"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8",
			} {
				if h.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, h.Get(k), want)
				}
			}
			for _, re := range []*regexp.Regexp{styleAttr, eventAttr} {
				if m := re.FindString(p.body); m != "" {
					t.Errorf("page has inline markup the CSP blocks: %q", m)
				}
			}
			for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(p.body, -1) {
				if !strings.Contains(m, ` src="/static/`) {
					t.Errorf("inline script: %s", m)
				}
			}
		})
	}
}

// TestPagesFollowScopes: the navigation hides what a key may not open, and
// the server refuses it anyway.
func TestPagesFollowScopes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	decideOnly := newClient(t, f.srv, f.srv.CreateKey(t, "decider", auth.ScopeRequestDecide))
	approver := newClient(t, f.srv, f.approver)
	admin := newClient(t, f.srv, f.srv.AdminKey)
	tests := []struct {
		c       *client
		name    string
		allowed map[string]bool
	}{
		{decideOnly, "request:decide", map[string]bool{"/": true}},
		{approver, "request:decide+read", map[string]bool{"/": true, "/history": true, "/audit": true}},
		{admin, "admin", map[string]bool{"/": true, "/history": true, "/audit": true, "/policies": true, "/keys": true, "/webhooks": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := tt.c.get("/")
			for _, path := range []string{"/", "/history", "/audit", "/policies", "/keys", "/webhooks", "/policies/new"} {
				p := tt.c.get(path)
				allowed := tt.allowed[strings.TrimSuffix(path, "/new")]
				if allowed && p.status != 200 || !allowed && p.status != 403 {
					t.Errorf("%s: status %d (allowed %v)", path, p.status, allowed)
				}
				if path != "/" && path != "/policies/new" && strings.Contains(home.body, `href="`+path+`"`) != allowed {
					t.Errorf("navigation link to %s shown = %v, want %v", path, !allowed, allowed)
				}
			}
			if !tt.allowed["/keys"] {
				if p := tt.c.post("/keys", url.Values{"name": {"x"}, "scope": {"admin"}}); p.status != 403 {
					t.Errorf("POST /keys: %d, want 403", p.status)
				}
			}
		})
	}
}

func TestSignInRateLimited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := newClient(t, f.srv, "")
	for i := range 10 {
		if p := c.post("/signin", url.Values{"key": {"agk_wrong"}}); p.status != 401 {
			t.Fatalf("attempt %d: %d", i+1, p.status)
		}
	}
	p := c.post("/signin", url.Values{"key": {f.approver}})
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("11th attempt: %d Retry-After %q, want 429 with Retry-After", p.status, p.header.Get("Retry-After"))
	}
	if strings.Contains(p.header.Get("Set-Cookie"), "agentgate_session=") {
		t.Error("a rate-limited sign-in set a cookie")
	}
}

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := newClient(t, f.srv, "")
	signin := c.get("/signin")
	m := regexp.MustCompile(`/static/([0-9a-f]{16})/app\.css`).FindStringSubmatch(signin.body)
	if m == nil {
		t.Fatal("the page links no fingerprinted stylesheet")
	}
	p := c.get(m[0])
	if p.status != 200 || p.header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		p.header.Get("ETag") != `"`+m[1]+`"` || !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") {
		t.Fatalf("asset: %d %v", p.status, p.header)
	}
	sum := sha256.Sum256([]byte(p.body))
	if hex.EncodeToString(sum[:])[:16] != m[1] {
		t.Error("the fingerprint is not the content's hash")
	}
	if p := c.get(m[0], "If-None-Match", `"`+m[1]+`"`); p.status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", p.status)
	}
	if p := c.get("/static/0000000000000000/app.css"); p.status != 200 || p.header.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("old fingerprint: %d %q, want the current file briefly cached", p.status, p.header.Get("Cache-Control"))
	}
	if p := c.get("/static/" + m[1] + "/nope.js"); p.status != 404 {
		t.Errorf("unknown file: %d", p.status)
	}
}

// TestQueuePaginates: the queue renders one page of the most urgent
// requests and links to the rest.
func TestQueuePaginates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	agent := approval.Actor{ID: "key_bulk", Name: "bulk", Type: approval.ActorAgent, Channel: "api"}
	for i := range 105 {
		urg := approval.UrgencyLow
		if i == 104 {
			urg = approval.UrgencyCritical // the newest, but the most urgent
		}
		if _, _, err := f.srv.App.Approvals.Create(ctx, agent, approval.CreateInput{Action: "bulk", Urgency: urg}); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, f.srv, f.approver)
	first := c.get("/")
	if n := strings.Count(first.body, `id="r-req_`); n != 100 {
		t.Errorf("first page has %d cards, want 100", n)
	}
	if !strings.Contains(first.body, "Showing 1–100 of 105") || !strings.Contains(first.body, `href="/?offset=100"`) {
		t.Error("first page lacks the count and the next link")
	}
	if i := strings.Index(first.body, `<li class="card `); i < 0 || strings.Index(first.body, `id="card-template"`) < i || !strings.Contains(first.body[i:i+200], "urg-edge-critical") {
		t.Error("the critical request is not first")
	}
	if !strings.Contains(first.body, "<title>(105) Queue · AgentGate</title>") {
		t.Error("the title lacks the pending count")
	}
	second := c.get("/?offset=100")
	if n := strings.Count(second.body, `id="r-req_`); n != 5 {
		t.Errorf("second page has %d cards, want 5", n)
	}
	if p := c.get("/?offset=-1"); p.status != 400 {
		t.Errorf("bad offset: %d", p.status)
	}
}

// TestLiveStream reads /ui/events: the pending count first, then each
// change with the card's data.
func TestLiveStream(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.request(t, `{"action":"first"}`)
	c := newClient(t, f.srv, f.approver)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/ui/events", nil)
	req.AddCookie(c.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	next := func() (event, data string) {
		t.Helper()
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && event != "":
				return event, data
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return "", ""
	}
	if ev, data := next(); ev != "hello" || data != `{"pending":1}` {
		t.Fatalf("first event %s %s", ev, data)
	}
	id := f.request(t, `{"action":"second","params":{"to":"a@example.com"}}`)
	ev, data := next()
	if ev != "request.created" || !strings.Contains(data, `"id":"`+id+`"`) || !strings.Contains(data, `"pending":2`) ||
		!strings.Contains(data, `"summary":[{"k":"to","v":"a@example.com"}]`) {
		t.Fatalf("created event %s %s", ev, data)
	}
	if st, m := apiCall(t, "POST", f.srv.URL+"/api/requests/"+id+"/decide", f.approver, `{"decision":"denied"}`); st != 200 {
		t.Fatalf("decide: %d %v", st, m)
	}
	if ev, data := next(); ev != "request.decided" || !strings.Contains(data, `"status":"denied"`) || !strings.Contains(data, `"pending":1`) {
		t.Fatalf("decided event %s %s", ev, data)
	}
	// Without a session the stream is refused.
	if p := newClient(t, f.srv, "").get("/ui/events", "Accept", "text/event-stream"); p.status != 401 {
		t.Errorf("stream without a session: %d, want 401", p.status)
	}
}

// TestSessionsOnPostgres runs the session life cycle on PostgreSQL, where
// several replicas share the sessions table.
func TestSessionsOnPostgres(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &testserver.Options{DatabaseURL: testserver.PostgresURL(t)})
	c := newClient(t, f.srv, f.approver)
	id := f.request(t, `{"action":"deploy"}`)
	if p := c.get("/"); p.status != 200 || !strings.Contains(p.body, `id="r-`+id+`"`) {
		t.Fatalf("queue: %d", p.status)
	}
	if p := c.post("/requests/"+id+"/decide", url.Values{"decision": {"approved"}}); p.status != 303 {
		t.Fatalf("decide: %d %s", p.status, p.body)
	}
	if p := c.post("/signout", url.Values{}); p.status != 303 {
		t.Fatalf("sign out: %d", p.status)
	}
	if p := c.get("/"); p.status != 303 {
		t.Fatalf("after sign-out: %d", p.status)
	}
}
