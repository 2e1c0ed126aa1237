package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of the options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxAttempts  = 4
	DefaultMinBackoff   = 250 * time.Millisecond
	DefaultMaxBackoff   = 10 * time.Second
	DefaultPollInterval = 2 * time.Second
	DefaultLongPoll     = 30 * time.Second
	DefaultUserAgent    = "agentgate-go"
)

// Client calls an AgentGate server. It is safe for concurrent use; create
// one per server and API key and reuse it.
type Client struct {
	baseStr   string // scheme://host[/prefix], no trailing slash
	key       string
	hc        *http.Client
	userAgent string
	timeout   time.Duration
	log       *slog.Logger

	maxAttempts            int
	minBackoff, maxBackoff time.Duration
	pollInterval           time.Duration

	// sleep waits d or until ctx ends; tests replace it to observe delays
	// without waiting.
	sleep func(ctx context.Context, d time.Duration) error
}

// Option configures a Client.
type Option func(*Client) error

// WithHTTPClient makes the client send its calls through hc, e.g. for a
// custom transport, proxy or TLS configuration. The client bounds each call
// with contexts; hc.Timeout, when set, also bounds long-polls and event
// streams, so leave it zero (the client shortens its long-polls to fit it).
// Defaults to a client with its own connection pool.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("WithHTTPClient: nil *http.Client")
		}
		c.hc = hc
		return nil
	}
}

// WithUserAgent sets the User-Agent header, e.g. "my-agent/1.2". Defaults
// to DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if strings.ContainsAny(ua, "\r\n") {
			return errors.New("WithUserAgent: user agent contains a line break")
		}
		c.userAgent = ua
		return nil
	}
}

// WithTimeout bounds each HTTP attempt of an ordinary call (not the
// long-polls of Wait, nor Events). Defaults to DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return errors.New("WithTimeout: the timeout must be positive")
		}
		c.timeout = d
		return nil
	}
}

// WithRetry sets how calls are retried: at most maxAttempts attempts in
// all (1 disables retries), waiting between minBackoff and maxBackoff,
// doubling with jitter. A server's Retry-After overrides the backoff.
// Wait and Events retry until their context ends, with the same backoff.
// Defaults: DefaultMaxAttempts, DefaultMinBackoff, DefaultMaxBackoff.
func WithRetry(maxAttempts int, minBackoff, maxBackoff time.Duration) Option {
	return func(c *Client) error {
		if maxAttempts < 1 {
			return errors.New("WithRetry: maxAttempts must be at least 1")
		}
		if minBackoff <= 0 || maxBackoff < minBackoff {
			return errors.New("WithRetry: need 0 < minBackoff <= maxBackoff")
		}
		c.maxAttempts, c.minBackoff, c.maxBackoff = maxAttempts, minBackoff, maxBackoff
		return nil
	}
}

// WithPollInterval sets how often Wait polls GET /api/requests/{id} when
// the server has no long-poll endpoint. Defaults to DefaultPollInterval.
func WithPollInterval(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return errors.New("WithPollInterval: the interval must be positive")
		}
		c.pollInterval = d
		return nil
	}
}

// WithLogger makes the client log retries, reconnections and fallbacks
// (at debug and warn levels). It never logs the API key. Defaults to no
// logging.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		c.log = l
		return nil
	}
}

// New returns a client for the server at baseURL (e.g.
// "http://localhost:3000", or "https://example.com/agentgate" behind a
// reverse proxy) that authenticates with apiKey ("agk_..."). apiKey may be
// empty for the public endpoints (Health) only.
//
// New checks its arguments but does not contact the server; call Me or
// Health to check that the server is reachable and the key valid.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("agentgate: base URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("agentgate: base URL %q must start with http:// or https://", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("agentgate: base URL %q has no host", baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("agentgate: base URL %q must not hold credentials, a query or a fragment", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if strings.ContainsFunc(apiKey, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("agentgate: the API key contains spaces or control characters")
	}
	c := &Client{
		baseStr:      u.String(),
		key:          apiKey,
		userAgent:    DefaultUserAgent,
		timeout:      DefaultTimeout,
		log:          slog.New(slog.DiscardHandler),
		maxAttempts:  DefaultMaxAttempts,
		minBackoff:   DefaultMinBackoff,
		maxBackoff:   DefaultMaxBackoff,
		pollInterval: DefaultPollInterval,
		sleep:        sleepCtx,
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("agentgate: %w", err)
		}
	}
	if c.hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Agents often wait on several requests at once: keep their
		// connections instead of the default two per host.
		t.MaxIdleConnsPerHost = 32
		c.hc = &http.Client{Transport: t}
	}
	return c, nil
}

// BaseURL returns the server's base URL as the client uses it.
func (c *Client) BaseURL() string { return c.baseStr }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff returns the delay before retry number n (1-based): doubling from
// minBackoff, capped at maxBackoff, with "equal jitter" (half fixed, half
// random) so that many clients do not retry in step.
func (c *Client) backoff(n int) time.Duration {
	d := c.minBackoff
	for i := 1; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	half := d / 2
	return half + mrand.N(half+1)
}

// newToken returns 128 random bits as text, for idempotency keys and
// request ids.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// call is one logical API call, possibly sent several times.
type call struct {
	method string
	path   string     // escaped path, e.g. /api/requests/req_1/decide
	query  url.Values // optional
	body   []byte     // encoded once: every attempt sends the same bytes
	header http.Header
	// retrySafe marks calls the server handles idempotently even though
	// their method is not (create with an Idempotency-Key, decide): they
	// are retried after failures that may have reached the server.
	retrySafe bool
	// attempts overrides the client's maxAttempts (Wait uses 1 and runs
	// its own loop).
	attempts int
	// timeout overrides the per-attempt timeout.
	timeout time.Duration

	// ambiguous is set when an attempt failed in a way that may have
	// reached the server (a reset connection, a gateway error), so the
	// server may have acted on it.
	ambiguous bool
	// status and header of the successful answer.
	status     int
	respHeader http.Header
}

func (cl *call) name() string { return cl.method + " " + cl.path }

// idempotentMethod reports whether HTTP defines m as idempotent.
func idempotentMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// do sends cl with retries and decodes a successful JSON answer into out
// (when out is not nil).
func (c *Client) do(ctx context.Context, cl *call, out any) error {
	body, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("agentgate: %s: cannot decode the answer: %w", cl.name(), err)
	}
	return nil
}

// send runs the attempts of cl and returns the body of its 2xx answer.
func (c *Client) send(ctx context.Context, cl *call) ([]byte, error) {
	reqID := newToken()[:24]
	attempts := c.maxAttempts
	if cl.attempts > 0 {
		attempts = cl.attempts
	}
	for n := 1; ; n++ {
		body, retry, wait, err := c.attempt(ctx, cl, reqID)
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, ctxError(ctx, cl, err)
		}
		if !retry || n >= attempts {
			return nil, err
		}
		if wait <= 0 {
			wait = c.backoff(n)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would outlive the caller's deadline: report the
			// error now rather than a bare deadline later.
			return nil, err
		}
		c.log.DebugContext(ctx, "agentgate: retrying", "call", cl.name(), "attempt", n+1, "delay", wait.String(), "err", err.Error())
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, ctxError(ctx, cl, err)
		}
	}
}

// ctxError reports that the caller's context ended, keeping the last
// failure for the message.
func ctxError(ctx context.Context, cl *call, last error) error {
	cause := context.Cause(ctx)
	if errors.Is(last, cause) || errors.Is(last, ctx.Err()) {
		return fmt.Errorf("agentgate: %s: %w", cl.name(), ctx.Err())
	}
	return fmt.Errorf("agentgate: %s: %w (last error: %v)", cl.name(), ctx.Err(), last)
}

// attempt sends cl once. It returns the body of a 2xx answer, or the error
// with whether it may be retried and how long the server asked to wait.
func (c *Client) attempt(ctx context.Context, cl *call, reqID string) (body []byte, retry bool, wait time.Duration, err error) {
	timeout := c.timeout
	if cl.timeout > 0 {
		timeout = cl.timeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := c.newRequest(actx, cl, reqID)
	if err != nil {
		return nil, false, 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.retryNetError(ctx, cl, err), 0, c.netError(cl, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		body, err = io.ReadAll(resp.Body)
		if err != nil {
			// The answer was cut off: the server did act.
			cl.ambiguous = true
			return nil, ctx.Err() == nil && (cl.retrySafe || idempotentMethod(cl.method)), 0, c.netError(cl, err)
		}
		cl.status, cl.respHeader = resp.StatusCode, resp.Header
		return body, false, 0, nil
	}
	body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // let the connection be reused
	apiErr := newAPIError(cl.method, cl.path, resp, body)
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		// Refused before any work: always safe to send again.
		return nil, true, apiErr.RetryAfter, apiErr
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		// A proxy may have passed the call on before it failed.
		retry = cl.retrySafe || idempotentMethod(cl.method)
		if retry {
			cl.ambiguous = true
		}
		return nil, retry, apiErr.RetryAfter, apiErr
	case http.StatusInternalServerError:
		return nil, idempotentMethod(cl.method), 0, apiErr
	}
	return nil, false, 0, apiErr
}

func (c *Client) newRequest(ctx context.Context, cl *call, reqID string) (*http.Request, error) {
	u := c.baseStr + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("agentgate: %s: %w", cl.name(), err)
	}
	for k, vs := range cl.header {
		req.Header[k] = vs
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", c.userAgent)
	// One id for every attempt of a call, so the server's logs show the
	// retries together.
	req.Header.Set("X-Request-Id", reqID)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	return req, nil
}

// netError wraps a failure without an HTTP answer in ErrUnreachable
// (unless the caller's context ended).
func (c *Client) netError(cl *call, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("agentgate: %s: %w", cl.name(), err)
	}
	return fmt.Errorf("%w at %s: %s: %w", ErrUnreachable, c.baseStr, cl.name(), err)
}

// retryNetError decides whether a failure without an answer may be
// retried, and notes whether it may have reached the server.
func (c *Client) retryNetError(ctx context.Context, cl *call, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if isDialError(err) {
		return true // nothing was sent
	}
	if cl.retrySafe || idempotentMethod(cl.method) {
		cl.ambiguous = true
		return true
	}
	return false
}

// isDialError reports whether err happened before the request was sent:
// the connection could not be opened.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// encodeBody encodes v for a call body.
func encodeBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("agentgate: encode the request body: %w", err)
	}
	return b, nil
}

// escape escapes one path segment (an id).
func escape(id string) string { return url.PathEscape(id) }
