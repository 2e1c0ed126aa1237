package channels

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// AddrLimiter limits requests per client address in fixed windows. It is
// per process and bounded in memory; it guards the public decision pages
// against token guessing and floods.
//
// (When the shared per-address limiter of internal/ratelimit is wired into
// the API's route table, these routes should use it instead, so that the
// limit holds across replicas.)
type AddrLimiter struct {
	mu      sync.Mutex
	limit   int
	window  time.Duration
	now     func() time.Time
	max     int
	buckets map[string]*bucket
}

type bucket struct {
	start time.Time
	count int
}

// NewAddrLimiter allows limit requests per window per address. now may be
// nil (time.Now).
func NewAddrLimiter(limit int, window time.Duration, now func() time.Time) *AddrLimiter {
	if now == nil {
		now = time.Now
	}
	return &AddrLimiter{limit: limit, window: window, now: now, max: 100_000, buckets: map[string]*bucket{}}
}

// Allow counts one request from addr and reports whether it may proceed,
// and if not, how long until it may.
func (l *AddrLimiter) Allow(addr string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil || now.Sub(b.start) >= l.window {
		if b == nil && len(l.buckets) >= l.max {
			l.prune(now)
		}
		b = &bucket{start: now}
		l.buckets[addr] = b
	}
	if b.count >= l.limit {
		return false, b.start.Add(l.window).Sub(now)
	}
	b.count++
	return true, 0
}

// prune drops finished windows; if every window is live (a flood from very
// many addresses), it starts over rather than grow without bound.
func (l *AddrLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.start) >= l.window {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.max {
		clear(l.buckets)
	}
}

// ClientAddr is the address a request came from: the connection's peer.
// (Behind a reverse proxy every client shares the proxy's address; the
// API's trusted-proxy handling, when it lands, should replace this.)
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
