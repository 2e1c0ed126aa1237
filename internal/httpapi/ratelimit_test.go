package httpapi_test

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/httpapi"
	"github.com/agentgate/agentgate/internal/testserver"
)

// headerInt reads an integer header, failing when it is absent.
func headerInt(t *testing.T, resp *http.Response, name string) int {
	t.Helper()
	v := resp.Header.Get(name)
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("header %s = %q, want an integer", name, v)
	}
	return n
}

func TestKeyRateLimit(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, nil)
	_, limited, _ := createKey(t, s, map[string]any{"name": "limited", "scopes": []string{"request:read"}, "rateLimit": 3})
	_, other, _ := createKey(t, s, map[string]any{"name": "other", "scopes": []string{"request:read"}, "rateLimit": 3})
	_, unlimited, rl := createKey(t, s, map[string]any{"name": "unlimited", "scopes": []string{"request:read"}})
	if rl != nil {
		t.Fatalf("a key created without rateLimit (no default configured) got %d, want null", *rl)
	}

	for i := range 3 {
		resp, body := get(t, s.URL+"/api/me", limited)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s", i+1, resp.StatusCode, body)
		}
		if got := headerInt(t, resp, "X-RateLimit-Limit"); got != 3 {
			t.Errorf("request %d: X-RateLimit-Limit %d, want 3", i+1, got)
		}
		if got := headerInt(t, resp, "X-RateLimit-Remaining"); got != 2-i {
			t.Errorf("request %d: X-RateLimit-Remaining %d, want %d", i+1, got, 2-i)
		}
		if got := headerInt(t, resp, "X-RateLimit-Reset"); got < 1 || got > 60 {
			t.Errorf("request %d: X-RateLimit-Reset %d, want seconds in [1, 60]", i+1, got)
		}
	}
	resp, body := get(t, s.URL+"/api/me", limited)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th request: %d %s, want 429", resp.StatusCode, body)
	}
	if msg := errorOf(t, body); !strings.Contains(msg, "Rate limit exceeded") {
		t.Errorf("429 error %q", msg)
	}
	if ra := headerInt(t, resp, "Retry-After"); ra < 1 || ra > 60 {
		t.Errorf("Retry-After %d, want [1, 60]", ra)
	}
	if got := headerInt(t, resp, "X-RateLimit-Remaining"); got != 0 {
		t.Errorf("429: X-RateLimit-Remaining %d, want 0", got)
	}
	if reset, ra := headerInt(t, resp, "X-RateLimit-Reset"), headerInt(t, resp, "Retry-After"); reset != ra {
		t.Errorf("429: X-RateLimit-Reset %d != Retry-After %d", reset, ra)
	}

	// Other keys are counted apart; unlimited keys carry no headers.
	if resp, body := get(t, s.URL+"/api/me", other); resp.StatusCode != http.StatusOK || resp.Header.Get("X-RateLimit-Remaining") != "2" {
		t.Errorf("other key: %d remaining %q %s", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"), body)
	}
	for range 5 {
		resp, body := get(t, s.URL+"/api/me", unlimited)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("unlimited key: %d X-RateLimit-Limit %q %s", resp.StatusCode, resp.Header.Get("X-RateLimit-Limit"), body)
		}
	}
	// A failed authentication carries no limit headers: there is no key.
	if resp, _ := get(t, s.URL+"/api/me", auth.GenerateKey()); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-RateLimit-Limit") != "" {
		t.Errorf("bad key: %d X-RateLimit-Limit %q", resp.StatusCode, resp.Header.Get("X-RateLimit-Limit"))
	}
}

// TestKeyRateLimitCountsForbidden: the limit applies right after
// authentication, so requests refused for scope count as well.
func TestKeyRateLimitCountsForbidden(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, nil)
	_, key, _ := createKey(t, s, map[string]any{"name": "reader", "scopes": []string{"request:read"}, "rateLimit": 2})
	resp, body := get(t, s.URL+"/api/policies", key)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-RateLimit-Remaining") != "1" {
		t.Fatalf("forbidden: %d remaining %q %s", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"), body)
	}
	get(t, s.URL+"/api/me", key)
	if resp, _ := get(t, s.URL+"/api/me", key); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third request: %d, want 429", resp.StatusCode)
	}
}

func TestDefaultRateLimitForNewKeys(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) { c.DefaultRateLimit = 5 }})
	cases := []struct {
		name   string
		fields map[string]any
		want   *int
	}{
		{"absent takes the default", map[string]any{"name": "a", "scopes": []string{"request:read"}}, ptr(5)},
		{"explicit null is unlimited", map[string]any{"name": "b", "scopes": []string{"request:read"}, "rateLimit": nil}, nil},
		{"explicit value wins", map[string]any{"name": "c", "scopes": []string{"request:read"}, "rateLimit": 7}, ptr(7)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, got := createKey(t, s, tc.fields)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("rateLimit %v, want %v", deref(got), deref(tc.want))
			}
		})
	}
}

func ptr(n int) *int { return &n }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestAdminEnvKeyRateLimit(t *testing.T) {
	t.Parallel()
	const adminKey = "admin-env-key-0123456789"
	for _, tc := range []struct {
		name    string
		limit   int
		wantHdr bool
		want3rd int
	}{
		{"unlimited unless configured", 0, false, http.StatusOK},
		{"AGENTGATE_ADMIN_RATE_LIMIT applies", 2, true, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) {
				c.AdminAPIKey = adminKey
				c.AdminRateLimit = tc.limit
			}})
			for i := range 2 {
				resp, body := get(t, s.URL+"/api/me", adminKey)
				if resp.StatusCode != http.StatusOK || (resp.Header.Get("X-RateLimit-Limit") != "") != tc.wantHdr {
					t.Fatalf("request %d: %d X-RateLimit-Limit %q %s", i+1, resp.StatusCode, resp.Header.Get("X-RateLimit-Limit"), body)
				}
			}
			if resp, _ := get(t, s.URL+"/api/me", adminKey); resp.StatusCode != tc.want3rd {
				t.Fatalf("third request: %d, want %d", resp.StatusCode, tc.want3rd)
			}
		})
	}
}

func TestAuthFailureThrottle(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) { c.AuthFailureLimit = 3 }})
	// Requests without credentials guess nothing and do not count.
	for range 5 {
		if resp, _ := get(t, s.URL+"/api/me", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("no credentials: %d, want 401", resp.StatusCode)
		}
	}
	for i := range 3 {
		if resp, body := get(t, s.URL+"/api/me", auth.GenerateKey()); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad key %d: %d %s, want 401", i+1, resp.StatusCode, body)
		}
	}
	resp, body := get(t, s.URL+"/api/me", auth.GenerateKey())
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th bad key: %d %s, want 429", resp.StatusCode, body)
	}
	if msg := errorOf(t, body); !strings.Contains(msg, "failed authentications") {
		t.Errorf("error %q", msg)
	}
	if ra := headerInt(t, resp, "Retry-After"); ra < 1 || ra > 60 {
		t.Errorf("Retry-After %d", ra)
	}
	// The address is blocked: even a valid key is not checked, so a
	// correct guess cannot be told from a wrong one.
	if resp, _ := get(t, s.URL+"/api/me", s.AdminKey); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("valid key from a blocked address: %d, want 429", resp.StatusCode)
	}
	_, metrics := get(t, s.URL+"/metrics", "")
	if !bytes.Contains(metrics, []byte(`agentgate_rate_limited_total{kind="auth_failure"}`)) {
		t.Error("metrics lack agentgate_rate_limited_total{kind=\"auth_failure\"}")
	}
}

func TestAuthFailureThrottleClientAddress(t *testing.T) {
	t.Parallel()
	t.Run("behind a trusted proxy the forwarded address counts", func(t *testing.T) {
		t.Parallel()
		s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) {
			c.AuthFailureLimit = 2
			c.TrustedProxies = []string{"127.0.0.1/32"}
		}})
		for range 2 {
			get(t, s.URL+"/api/me", auth.GenerateKey(), "X-Forwarded-For", "203.0.113.7")
		}
		if resp, _ := get(t, s.URL+"/api/me", auth.GenerateKey(), "X-Forwarded-For", "203.0.113.7"); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("3rd failure from 203.0.113.7: %d, want 429", resp.StatusCode)
		}
		if resp, _ := get(t, s.URL+"/api/me", s.AdminKey, "X-Forwarded-For", "203.0.113.8"); resp.StatusCode != http.StatusOK {
			t.Fatalf("another client behind the proxy: %d, want 200", resp.StatusCode)
		}
		// A client cannot escape by prepending an address: the proxy
		// appends the real one, and the right-most untrusted entry counts.
		if resp, _ := get(t, s.URL+"/api/me", s.AdminKey, "X-Forwarded-For", "203.0.113.8, 203.0.113.7"); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("spoofed prefix: %d, want 429", resp.StatusCode)
		}
	})
	t.Run("without trusted proxies X-Forwarded-For is ignored", func(t *testing.T) {
		t.Parallel()
		s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) { c.AuthFailureLimit = 2 }})
		for i, xff := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
			resp, _ := get(t, s.URL+"/api/me", auth.GenerateKey(), "X-Forwarded-For", xff)
			want := http.StatusUnauthorized
			if i == 2 {
				want = http.StatusTooManyRequests
			}
			if resp.StatusCode != want {
				t.Fatalf("failure %d (X-Forwarded-For %s): %d, want %d", i+1, xff, resp.StatusCode, want)
			}
		}
	})
}

// TestLimitByAddress covers the helper for unauthenticated endpoints and
// the Route.AddressLimit field.
func TestLimitByAddress(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, nil)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(s.App.API.LimitByAddress("login", 2, ok))
	t.Cleanup(srv.Close)
	for i := range 2 {
		if resp, _ := get(t, srv.URL, ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("helper request %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, body := get(t, srv.URL, "")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("helper 3rd request: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	errorOf(t, body)

	s.App.API.Handle(httpapi.Route{Method: "GET", Pattern: "/test/public-limited", Scope: httpapi.ScopePublic, AddressLimit: 1,
		Handler: func(w http.ResponseWriter, r *http.Request) error { w.WriteHeader(http.StatusNoContent); return nil }})
	if resp, _ := get(t, s.URL+"/test/public-limited", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("route 1st request: %d", resp.StatusCode)
	}
	if resp, _ := get(t, s.URL+"/test/public-limited", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("route 2nd request: %d, want 429", resp.StatusCode)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRedisOutageFallsBackToMemory: with Redis unreachable the server
// keeps serving, enforces the limit per process, logs the outage once and
// shows it in the metrics.
func TestRedisOutageFallsBackToMemory(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := testserver.Start(t, &testserver.Options{Log: &logs, Configure: func(c *config.Config) {
		c.RedisURL = "redis://" + closedPort(t) + "/0"
	}})
	_, key, _ := createKey(t, s, map[string]any{"name": "limited", "scopes": []string{"request:read"}, "rateLimit": 2})
	var codes []int
	for range 6 {
		resp, _ := get(t, s.URL+"/api/me", key)
		codes = append(codes, resp.StatusCode)
	}
	want := []int{200, 200, 429, 429, 429, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("statuses %v, want %v", codes, want)
		}
	}
	if n := strings.Count(logs.String(), "Redis is unreachable"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
	_, metrics := get(t, s.URL+"/metrics", "")
	for _, line := range []string{"agentgate_rate_limit_backend_up 0", "agentgate_rate_limit_fallback_total 6"} {
		if !bytes.Contains(metrics, []byte(line+"\n")) {
			t.Errorf("metrics lack %q", line)
		}
	}
}

// TestRateLimitSharedAcrossServers runs two servers on one database and
// one Redis: a key limited to N gets N successes in total, however its
// requests are spread over the two.
func TestRateLimitSharedAcrossServers(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("AGENTGATE_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("AGENTGATE_TEST_REDIS_URL not set; shared Redis rate-limit test skipped (CI sets it)")
	}
	dbURL := filepath.Join(t.TempDir(), "shared.db")
	if os.Getenv("AGENTGATE_TEST_POSTGRES_URL") != "" {
		dbURL = testserver.PostgresURL(t)
	}
	opts := &testserver.Options{DatabaseURL: dbURL, Configure: func(c *config.Config) { c.RedisURL = redisURL }}
	a := testserver.Start(t, opts)
	b := testserver.Start(t, opts)
	const limit = 10
	_, key, _ := createKey(t, a, map[string]any{"name": "shared", "scopes": []string{"request:read"}, "rateLimit": limit})

	var ok, limited, other atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		base := a.URL
		if w%2 == 1 {
			base = b.URL
		}
		wg.Go(func() {
			for range 5 {
				resp, _ := get(t, base+"/api/me", key)
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != limit || limited.Load() != 40-limit || other.Load() != 0 {
		t.Fatalf("across two servers: %d ok, %d limited, %d other; want %d, %d, 0", ok.Load(), limited.Load(), other.Load(), limit, 40-limit)
	}
}
