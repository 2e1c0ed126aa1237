package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/testserver"
)

// bundle is a running server with clients for its roles.
type bundle struct {
	srv      *testserver.Server
	admin    *Client // admin scope
	agent    *Client // request:create, request:read
	approver *Client // request:decide, request:read
	reader   *Client // request:read only
}

// fastRetry keeps retries quick in tests against real servers.
func fastRetry() Option { return WithRetry(5, 5*time.Millisecond, 50*time.Millisecond) }

func setup(t *testing.T, opts *testserver.Options) *bundle {
	t.Helper()
	srv := testserver.Start(t, opts)
	return &bundle{
		srv:      srv,
		admin:    mustNew(t, srv.URL, srv.AdminKey, fastRetry()),
		agent:    mustNew(t, srv.URL, srv.CreateKey(t, "agent", auth.ScopeRequestCreate, auth.ScopeRequestRead), fastRetry()),
		approver: mustNew(t, srv.URL, srv.CreateKey(t, "approver", auth.ScopeRequestDecide, auth.ScopeRequestRead), fastRetry()),
		reader:   mustNew(t, srv.URL, srv.CreateKey(t, "reader", auth.ScopeRequestRead), fastRetry()),
	}
}

func mustNew(t testing.TB, base, key string, opts ...Option) *Client {
	t.Helper()
	c, err := New(base, key, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", base, err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustRequest(t *testing.T, c *Client, in RequestInput) *Request {
	t.Helper()
	r, err := c.Request(testCtx(t), in)
	if err != nil {
		t.Fatalf("Request(%s): %v", in.Action, err)
	}
	return r
}

// sleeps records the delays the client asks for instead of waiting.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

// proxy is a reverse proxy in front of a test server. Its backend can be
// swapped (a restarted server), and a hook may drop calls: when intercept
// returns true the proxy has answered (or dropped) the call itself.
type proxy struct {
	*httptest.Server
	target    atomic.Pointer[url.URL]
	intercept atomic.Pointer[func(w http.ResponseWriter, r *http.Request, forward func(http.ResponseWriter, *http.Request)) bool]
	seen      chan string // "METHOD path" of every call, when not full
}

func newProxy(t testing.TB, backend string) *proxy {
	t.Helper()
	p := &proxy{seen: make(chan string, 1024)}
	p.setBackend(t, backend)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.target.Load())
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1, // stream long-polls and SSE as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The backend is down: drop the client's connection, as a
			// restarting server would, rather than answer 502.
			dropConnection(w)
		},
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case p.seen <- r.Method + " " + r.URL.Path:
		default:
		}
		if f := p.intercept.Load(); f != nil && (*f)(w, r, rp.ServeHTTP) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) setBackend(t testing.TB, backend string) {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	p.target.Store(u)
}

func (p *proxy) setIntercept(f func(w http.ResponseWriter, r *http.Request, forward func(http.ResponseWriter, *http.Request)) bool) {
	p.intercept.Store(&f)
}

// waitSeen blocks until the proxy saw a call "METHOD path".
func (p *proxy) waitSeen(t testing.TB, want string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case got := <-p.seen:
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("the proxy never saw %s", want)
		}
	}
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("the test server's ResponseWriter cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

// discardResponse is a ResponseWriter that throws the answer away, for a
// call forwarded to the server whose answer is then "lost".
type discardResponse struct{ h http.Header }

func (d *discardResponse) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardResponse) WriteHeader(int)             {}
