package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
)

// RateWindow is the window of every API limit: limits are per minute.
const RateWindow = time.Minute

// limitKey applies the principal's rate limit and sets the X-RateLimit-*
// headers. Keys without a limit (rateLimit null) are not counted and get
// no headers; the ADMIN_API_KEY principal has AdminRateLimit.
func (s *Server) limitKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	limit := 0
	switch {
	case p.RateLimit != nil:
		limit = *p.RateLimit
	case p.KeyID == auth.AdminEnvKeyID:
		limit = s.cfg.AdminRateLimit
	}
	if limit <= 0 {
		return nil
	}
	res, err := s.limiter.Allow(r.Context(), "key:"+p.KeyID, limit, RateWindow)
	if err != nil {
		return limiterError(r.Context(), err)
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(res.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(ceilSeconds(res.Reset)))
	if !res.Allowed {
		s.observeLimited("key")
		return &approval.Error{Code: approval.CodeRateLimited, RetryAfter: res.Reset,
			Message: fmt.Sprintf("Rate limit exceeded: this API key may make %d requests per minute", limit)}
	}
	return nil
}

// limiterError maps a limiter failure. The Fallback limiter fails only
// when the caller went away; any other failure is a 503, because letting
// requests through unlimited would fail open.
func limiterError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return approval.Wrap(approval.CodeUnavailable, err, "rate limiting is unavailable; retry shortly")
}

func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}

func (s *Server) observeLimited(kind string) {
	if s.metrics != nil {
		s.metrics.RateLimited(kind)
	}
}

// authenticateThrottled authenticates r unless its client address has
// failed too often: after AuthFailureLimit failed authentications in a
// minute, every authentication from that address is answered 429 until
// the window frees a slot, so that guessing keys (notably a short
// ADMIN_API_KEY) is slow and a valid guess is not even checked. Requests
// without credentials do not count: they guess nothing.
func (s *Server) authenticateThrottled(r *http.Request) (*auth.Principal, error) {
	if s.cfg.AuthFailureLimit <= 0 {
		return s.authenticate(r)
	}
	addr := addrKey(s.ClientAddr(r))
	if until, blocked := s.authBlocks.blockedUntil(addr, time.Now()); blocked {
		return nil, tooManyFailures(time.Until(until))
	}
	p, err := s.authenticate(r)
	if err == nil || approval.ErrorCode(err) != approval.CodeUnauthenticated || errors.Is(err, auth.ErrMissingCredentials) {
		return p, err
	}
	res, lerr := s.limiter.Allow(r.Context(), "authfail:"+addr, s.cfg.AuthFailureLimit, RateWindow)
	if lerr != nil || res.Allowed {
		return nil, err
	}
	// Later attempts are refused before any key lookup; the shared limiter
	// stays the truth, so other replicas block this address at its first
	// failure there.
	if s.authBlocks.block(addr, time.Now().Add(res.Reset)) {
		s.log.Warn("throttling a client address after repeated failed authentications",
			"remote", addr, "failures_per_minute", s.cfg.AuthFailureLimit, "retry_after_s", ceilSeconds(res.Reset))
	}
	s.observeLimited("auth_failure")
	return nil, tooManyFailures(res.Reset)
}

func tooManyFailures(retry time.Duration) error {
	return &approval.Error{Code: approval.CodeRateLimited, RetryAfter: max(retry, time.Second),
		Message: "Too many failed authentications from this address; retry later"}
}

// addrBlocks remembers, per process, the addresses the shared limiter has
// refused, so that their later attempts cost no key lookup. It is bounded:
// when full, expired entries go, and if none has expired the new block is
// not remembered (the shared limiter still refuses each failure).
type addrBlocks struct {
	mu    sync.Mutex
	until map[string]time.Time
	max   int
}

func newAddrBlocks(maxEntries int) *addrBlocks {
	return &addrBlocks{until: map[string]time.Time{}, max: maxEntries}
}

func (b *addrBlocks) blockedUntil(addr string, now time.Time) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.until[addr]
	if !ok {
		return time.Time{}, false
	}
	if !now.Before(t) {
		delete(b.until, addr)
		return time.Time{}, false
	}
	return t, true
}

// block records addr as blocked until t and reports whether the block is
// new (so it is logged once).
func (b *addrBlocks) block(addr string, t time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.until[addr]; ok {
		b.until[addr] = t
		return false
	}
	if len(b.until) >= b.max {
		now := time.Now()
		for a, u := range b.until {
			if !now.Before(u) {
				delete(b.until, a)
			}
		}
		if len(b.until) >= b.max {
			return false // under a wide attack: do not log each address
		}
	}
	b.until[addr] = t
	return true
}

// LimitByAddress limits next to limit requests per minute per client
// address, answering 429 with Retry-After beyond it. bucket names the
// counter, so routes can share one limit or keep their own. Use it for
// unauthenticated endpoints that can be abused (one-click decision links,
// the dashboard login); routes in the table can set Route.AddressLimit.
func (s *Server) LimitByAddress(bucket string, limit int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.limitAddress(r, bucket, limit); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) limitAddress(r *http.Request, bucket string, limit int) error {
	if limit <= 0 {
		return nil
	}
	res, err := s.limiter.Allow(r.Context(), "addr:"+bucket+":"+addrKey(s.ClientAddr(r)), limit, RateWindow)
	if err != nil {
		return limiterError(r.Context(), err)
	}
	if !res.Allowed {
		s.observeLimited("address")
		return &approval.Error{Code: approval.CodeRateLimited, RetryAfter: res.Reset,
			Message: "Too many requests from this address; retry later"}
	}
	return nil
}

// ClientAddr returns the address of the client that sent r: the peer's
// address, or, when the peer is a trusted proxy (AGENTGATE_TRUSTED_PROXIES),
// the right-most address in X-Forwarded-For that is not a trusted proxy.
// Entries left of it were written by the client and are ignored, so a
// client cannot choose its own address. It returns the zero Addr when the
// peer address cannot be parsed.
func (s *Server) ClientAddr(r *http.Request) netip.Addr {
	return clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.TrustedProxies)
}

func clientAddr(remoteAddr string, xff []string, trusted []netip.Prefix) netip.Addr {
	peer := parseHostAddr(remoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	cur := peer
	for i := len(xff) - 1; i >= 0; i-- {
		hops := strings.Split(xff[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a := parseHostAddr(strings.TrimSpace(hops[j]))
			if !a.IsValid() {
				// A trusted proxy writes valid addresses: this came from
				// the client, so the last proxy's peer is all we know.
				return cur
			}
			cur = a
			if !isTrusted(a, trusted) {
				return a
			}
		}
	}
	return cur
}

// parseHostAddr parses "1.2.3.4", "1.2.3.4:80", "::1", "[::1]:80".
func parseHostAddr(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	return netip.Addr{}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrKey is the limiter's name for a client address. IPv6 clients are
// counted per /64, the smallest block a site is usually given, so that
// one client cannot rotate through its own addresses.
func addrKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
