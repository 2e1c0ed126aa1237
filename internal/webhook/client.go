package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxResponseBody is how much of a receiver's answer is kept in the
// delivery log.
const MaxResponseBody = 4 << 10

// drainLimit bounds how much more of an answer is read (and discarded) so
// the connection can be reused.
const drainLimit = 64 << 10

// Client posts deliveries. Every connection passes the Guard after DNS
// resolution; proxies from the environment are ignored (a proxy would
// connect on our behalf, past the guard) and redirects are not followed.
type Client struct {
	http     *http.Client
	resolver Resolver
	dialer   *net.Dialer
	guard    *Guard
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// Timeout bounds one attempt, from dial to the end of the answer.
	// Defaults to 10s.
	Timeout time.Duration
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
}

// NewClient returns a Client that connects only where guard allows.
func NewClient(guard *Guard, opts ClientOptions) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	c := &Client{
		resolver: opts.Resolver,
		guard:    guard,
		dialer:   &net.Dialer{Timeout: min(opts.Timeout, 5*time.Second), KeepAlive: 30 * time.Second, Control: guard.Control},
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           c.dial,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   min(opts.Timeout, 5*time.Second),
		ResponseHeaderTimeout: opts.Timeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64, // a few receivers take many deliveries at once: reuse their connections
		IdleConnTimeout:       60 * time.Second,
	}
	c.http = &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		// A redirect could point anywhere; the 3xx is the answer (a failed
		// attempt) and its target is never contacted.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// dial resolves the host itself (with the injectable resolver) and dials
// the addresses one by one; the dialer's Control runs the Guard on each
// address just before connect.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if numericHost(strings.ToLower(host)) {
		return nil, fmt.Errorf("%w: host %s is a non-standard IP address form", ErrRefused, host)
	} else {
		addrs, err = c.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
	}
	var first error
	for _, a := range addrs {
		conn, err := c.dialer.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil || (errors.Is(first, ErrRefused) && !errors.Is(err, ErrRefused)) {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// Result is the outcome of one POST.
type Result struct {
	StatusCode int // 0 when no answer came
	Body       string
	Duration   time.Duration
	Err        error // nil for any HTTP answer; see Outcome for how it counts
}

// Post sends body to target with the given headers.
func (c *Client) Post(ctx context.Context, target string, header http.Header, body []byte) Result {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("%w: invalid URL", ErrRefused)}
	}
	req.Header = header
	resp, err := c.http.Do(req)
	if err != nil {
		return Result{Duration: time.Since(start), Err: cleanError(err)}
	}
	defer resp.Body.Close()
	kept, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	return Result{StatusCode: resp.StatusCode, Body: storable(kept), Duration: time.Since(start)}
}

// cleanError drops the URL that net/http puts in its errors (a webhook URL
// may carry a token in its path) and names timeouts plainly.
func cleanError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timed out: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// storable makes a response body safe for a TEXT column: valid UTF-8 and
// no NUL bytes (PostgreSQL refuses both).
func storable(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
