package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fake is a scripted server: each call to a route takes the next answer
// of its script (the last one repeats).
type fake struct {
	mu      sync.Mutex
	scripts map[string][]answer // "METHOD /path" -> answers
	calls   []recorded
}

type answer struct {
	status int
	body   string
	header map[string]string
	drop   bool // close the connection without answering
}

type recorded struct {
	route  string
	header http.Header
	query  string
}

func newFake(t *testing.T, scripts map[string][]answer) (*fake, *httptest.Server) {
	t.Helper()
	f := &fake{scripts: scripts}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.calls = append(f.calls, recorded{route: route, header: r.Header.Clone(), query: r.URL.RawQuery})
	script := f.scripts[route]
	var a answer
	switch len(script) {
	case 0:
		a = answer{status: 404, body: fmt.Sprintf(`{"error":"Route %s not found"}`, route)}
	case 1:
		a = script[0]
	default:
		a, f.scripts[route] = script[0], script[1:]
	}
	f.mu.Unlock()
	if a.drop {
		dropConnection(w)
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func (f *fake) count(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.route == route {
			n++
		}
	}
	return n
}

func (f *fake) callsTo(route string) []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, c := range f.calls {
		if c.route == route {
			out = append(out, c)
		}
	}
	return out
}

func requestJSON(id string, status Status) string {
	b, _ := json.Marshal(map[string]any{
		"id": id, "action": "x", "params": map[string]any{}, "context": map[string]any{},
		"status": status, "urgency": "normal", "createdAt": "2026-01-02T03:04:05.678Z",
		"updatedAt": "2026-01-02T03:04:05.678Z", "decidedAt": nil, "decidedBy": nil,
		"policyDecision": map[string]any{"decision": "route_to_human", "ruleIndex": nil, "reason": "r"},
		"agent":          map[string]any{"id": "key_1", "name": "a"},
	})
	return string(b)
}

// fakeClient is a client of srv whose sleeps are recorded, not waited.
func fakeClient(t *testing.T, base string, opts ...Option) (*Client, *sleeps) {
	t.Helper()
	c := mustNew(t, base, "agk_test", append([]Option{WithRetry(4, 100*time.Millisecond, time.Second)}, opts...)...)
	rec := &sleeps{}
	c.sleep = rec.sleep
	return c, rec
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	limited := answer{status: 429, body: `{"error":"Rate limit exceeded"}`, header: map[string]string{"Retry-After": "7", "X-Request-Id": "rid-1"}}
	f, srv := newFake(t, map[string][]answer{
		"POST /api/requests": {limited, {status: 201, body: requestJSON("req_1", StatusPending)}},
	})
	c, rec := fakeClient(t, srv.URL)
	r, err := c.Request(testCtx(t), RequestInput{Action: "x"})
	if err != nil || r.ID != "req_1" {
		t.Fatalf("Request = %v, %v", r, err)
	}
	if d := cmp.Diff([]time.Duration{7 * time.Second}, rec.got()); d != "" {
		t.Errorf("delays (-want +got):\n%s", d)
	}
	calls := f.callsTo("POST /api/requests")
	if len(calls) != 2 || calls[0].header.Get("Idempotency-Key") != calls[1].header.Get("Idempotency-Key") ||
		calls[0].header.Get("X-Request-Id") != calls[1].header.Get("X-Request-Id") {
		t.Errorf("the retry must repeat the Idempotency-Key and X-Request-Id: %+v", calls)
	}

	// Still limited after every attempt: the 429 with its details.
	_, srv = newFake(t, map[string][]answer{"GET /api/requests/req_1": {limited}})
	c, rec = fakeClient(t, srv.URL)
	_, err = c.Get(testCtx(t), "req_1")
	var apiErr *APIError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.RetryAfter != 7*time.Second || apiErr.RequestID != "rid-1" ||
		apiErr.Message != "Rate limit exceeded" {
		t.Errorf("err = %#v, want the 429 APIError", err)
	}
	if n := len(rec.got()); n != 3 {
		t.Errorf("slept %d times, want 3 (4 attempts)", n)
	}

	// A Retry-After beyond the caller's deadline is not waited for.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	c, rec = fakeClient(t, srv.URL)
	if _, err := c.Get(ctx, "req_1"); !errors.Is(err, ErrRateLimited) || len(rec.got()) != 0 {
		t.Errorf("err = %v after %d sleeps; want ErrRateLimited at once", err, len(rec.got()))
	}
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	ok := func(status int) answer { return answer{status: status, body: requestJSON("req_1", StatusPending)} }
	fail := func(status int) answer { return answer{status: status, body: `{"error":"nope"}`} }
	drop := answer{drop: true}
	tests := []struct {
		name      string
		route     string
		script    []answer
		call      func(*Client) error
		wantCalls int
		wantErr   error // nil: success
	}{
		{"GET retries 503", "GET /api/requests/req_1", []answer{fail(503), fail(503), ok(200)},
			func(c *Client) error { _, err := c.Get(t.Context(), "req_1"); return err }, 3, nil},
		{"GET retries 500", "GET /api/requests/req_1", []answer{fail(500), ok(200)},
			func(c *Client) error { _, err := c.Get(t.Context(), "req_1"); return err }, 2, nil},
		{"GET retries a dropped connection", "GET /api/requests/req_1", []answer{drop, ok(200)},
			func(c *Client) error { _, err := c.Get(t.Context(), "req_1"); return err }, 2, nil},
		{"GET gives up after max attempts", "GET /api/requests/req_1", []answer{fail(502)},
			func(c *Client) error { _, err := c.Get(t.Context(), "req_1"); return err }, 4, ErrUnavailable},
		{"GET does not retry 404", "GET /api/requests/req_1", []answer{fail(404)},
			func(c *Client) error { _, err := c.Get(t.Context(), "req_1"); return err }, 1, ErrNotFound},
		{"GET does not retry 401", "GET /api/requests/req_1", []answer{fail(401)},
			func(c *Client) error { _, err := c.Get(t.Context(), "req_1"); return err }, 1, ErrUnauthorized},
		{"create retries 502", "POST /api/requests", []answer{fail(502), ok(201)},
			func(c *Client) error { _, err := c.Request(t.Context(), RequestInput{Action: "x"}); return err }, 2, nil},
		{"create retries a dropped connection", "POST /api/requests", []answer{drop, ok(201)},
			func(c *Client) error { _, err := c.Request(t.Context(), RequestInput{Action: "x"}); return err }, 2, nil},
		{"create does not retry 500", "POST /api/requests", []answer{fail(500), ok(201)},
			func(c *Client) error { _, err := c.Request(t.Context(), RequestInput{Action: "x"}); return err }, 1, errAny},
		{"create does not retry 400", "POST /api/requests", []answer{fail(400)},
			func(c *Client) error { _, err := c.Request(t.Context(), RequestInput{Action: "x"}); return err }, 1, ErrInvalid},
		{"decide retries 503", "POST /api/requests/req_1/decide", []answer{fail(503), ok(200)},
			func(c *Client) error {
				_, err := c.Decide(t.Context(), "req_1", DecideInput{Decision: StatusApproved})
				return err
			}, 2, nil},
		{"create key does not retry 503", "POST /api/keys", []answer{fail(503), {status: 201, body: `{"id":"key_1","key":"agk_x"}`}},
			func(c *Client) error { _, err := c.CreateKey(t.Context(), KeyInput{Name: "k"}); return err }, 1, ErrUnavailable},
		{"create key does not retry a dropped connection", "POST /api/keys", []answer{drop, {status: 201, body: `{"id":"key_1","key":"agk_x"}`}},
			func(c *Client) error { _, err := c.CreateKey(t.Context(), KeyInput{Name: "k"}); return err }, 1, ErrUnreachable},
		{"create key retries 429", "POST /api/keys", []answer{fail(429), {status: 201, body: `{"id":"key_1","key":"agk_x"}`}},
			func(c *Client) error { _, err := c.CreateKey(t.Context(), KeyInput{Name: "k"}); return err }, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFake(t, map[string][]answer{tt.route: tt.script})
			c, _ := fakeClient(t, srv.URL)
			err := tt.call(c)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("err = %v, want success", err)
			case tt.wantErr == errAny && err == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if n := f.count(tt.route); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := mustNew(t, "http://x", "", WithRetry(10, 100*time.Millisecond, time.Second))
	for n, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 50 {
			if d := c.backoff(n + 1); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n+1, d, want/2, want)
			}
		}
	}
}

func TestWaitPollingFallback(t *testing.T) {
	t.Parallel()
	f, srv := newFake(t, map[string][]answer{
		// No "GET /api/requests/req_1/wait": the fake answers it like a
		// server without long-polling: 404 "Route ... not found".
		"GET /api/requests/req_1": {
			{status: 200, body: requestJSON("req_1", StatusPending)},
			{status: 503, body: `{"error":"busy"}`},
			{status: 200, body: requestJSON("req_1", StatusPending)},
			{status: 200, body: requestJSON("req_1", StatusDenied)},
		},
	})
	c, rec := fakeClient(t, srv.URL, WithPollInterval(3*time.Second))
	r, err := c.Wait(testCtx(t), "req_1")
	if err != nil || r.Status != StatusDenied {
		t.Fatalf("Wait = %+v, %v; want denied", r, err)
	}
	if n := f.count("GET /api/requests/req_1/wait"); n != 1 {
		t.Errorf("long-poll tried %d times, want once before falling back", n)
	}
	if n := f.count("GET /api/requests/req_1"); n != 4 {
		t.Errorf("polled %d times, want 4", n)
	}
	got := rec.got()
	if len(got) != 3 || got[0] != 3*time.Second || got[2] != 3*time.Second || got[1] > time.Second {
		t.Errorf("delays = %v, want [3s, backoff after the 503, 3s]", got)
	}

	// WaitPollInterval overrides the client's interval.
	_, srv = newFake(t, map[string][]answer{"GET /api/requests/req_1": {
		{status: 200, body: requestJSON("req_1", StatusPending)}, {status: 200, body: requestJSON("req_1", StatusApproved)}}})
	c, rec = fakeClient(t, srv.URL)
	if _, err := c.Wait(testCtx(t), "req_1", WaitPollInterval(42*time.Second)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]time.Duration{42 * time.Second}, rec.got()); d != "" {
		t.Errorf("delays (-want +got):\n%s", d)
	}
}

func TestWaitAnswers(t *testing.T) {
	t.Parallel()
	pending := answer{status: 200, body: requestJSON("req_1", StatusPending)}
	t.Run("request not found ends the wait", func(t *testing.T) {
		t.Parallel()
		f, srv := newFake(t, map[string][]answer{"GET /api/requests/req_1/wait": {{status: 404, body: `{"error":"Request not found"}`}}})
		c, _ := fakeClient(t, srv.URL)
		if _, err := c.Wait(testCtx(t), "req_1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
		if n := f.count("GET /api/requests/req_1"); n != 0 {
			t.Errorf("polled %d times after a request 404, want 0", n)
		}
	})
	t.Run("pending answers loop; the server's cap is adopted", func(t *testing.T) {
		t.Parallel()
		f, srv := newFake(t, map[string][]answer{"GET /api/requests/req_1/wait": {
			{status: 400, body: `{"error":"timeout must be between 0s and 20s"}`},
			pending,
			{status: 200, body: ""}, // cut off: retried
			{drop: true},
			pending,
			{status: 200, body: requestJSON("req_1", StatusExpired)},
		}})
		c, rec := fakeClient(t, srv.URL)
		// No deadline on the context: a deadline would shorten the polls.
		r, err := c.Wait(t.Context(), "req_1", WaitLongPoll(45*time.Second))
		if err != nil || r.Status != StatusExpired {
			t.Fatalf("Wait = %+v, %v; want expired", r, err)
		}
		var timeouts []string
		for _, c := range f.callsTo("GET /api/requests/req_1/wait") {
			timeouts = append(timeouts, strings.TrimPrefix(c.query, "timeout="))
		}
		if d := cmp.Diff([]string{"45s", "20s", "20s", "20s", "20s", "20s"}, timeouts); d != "" {
			t.Errorf("long-poll timeouts (-want +got):\n%s", d)
		}
		// The cut-off answer costs a backoff; net/http may resend the
		// dropped one by itself on a reused connection.
		if n := len(rec.got()); n < 1 || n > 2 {
			t.Errorf("slept %d times, want 1 or 2 (after the failures only)", n)
		}
	})
	t.Run("forbidden ends the wait", func(t *testing.T) {
		t.Parallel()
		_, srv := newFake(t, map[string][]answer{"GET /api/requests/req_1/wait": {{status: 403, body: `{"error":"API key lacks the \"request:read\" scope"}`}}})
		c, _ := fakeClient(t, srv.URL)
		if _, err := c.Wait(testCtx(t), "req_1"); !errors.Is(err, ErrForbidden) {
			t.Errorf("err = %v, want ErrForbidden", err)
		}
	})
	t.Run("cancel returns the last state", func(t *testing.T) {
		t.Parallel()
		_, srv := newFake(t, map[string][]answer{"GET /api/requests/req_1/wait": {pending}})
		c, _ := fakeClient(t, srv.URL)
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		c.hc.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if n++; n == 3 {
				cancel()
			}
			return http.DefaultTransport.RoundTrip(r)
		})
		r, err := c.Wait(ctx, "req_1")
		if !errors.Is(err, context.Canceled) || r == nil || r.Status != StatusPending {
			t.Errorf("Wait = %+v, %v; want the pending request and context.Canceled", r, err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAPIErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, want string
	}{
		{`{"error":"Request not found"}`, "Request not found"},
		{`{"error":{"message":"nested"}}`, "nested"},
		{`<html><body>Bad Gateway</body></html>`, "Bad Gateway"},
		{"upstream connect error\r\n", "upstream connect error"},
		{``, "Bad Gateway"},
	}
	for _, tt := range tests {
		e := newAPIError("GET", "/x", &http.Response{StatusCode: 502, Header: http.Header{}}, []byte(tt.body))
		if e.Message != tt.want {
			t.Errorf("body %q: Message = %q, want %q", tt.body, e.Message, tt.want)
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "0": 0, "-1": 0, "1.5": 1500 * time.Millisecond, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
