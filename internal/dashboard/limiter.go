package dashboard

import (
	"context"
	"sync"
	"time"
)

// Limiter decides whether one more attempt under key is allowed. The
// dashboard limits sign-in attempts per client address with it; a shared
// (Redis) limiter can replace the in-memory one behind this interface.
type Limiter interface {
	// Allow records an attempt under key and reports whether it is within
	// the limit; when it is not, retryAfter says when the next may be.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// MemoryLimiter is a sliding-log limiter in this process: at most limit
// attempts per window under each key. With several replicas each enforces
// its own limit. Safe for concurrent use.
type MemoryLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	attempts map[string][]time.Time // oldest first
	swept    time.Time
}

// NewMemoryLimiter allows limit attempts per window per key; now is the
// clock (nil: time.Now).
func NewMemoryLimiter(limit int, window time.Duration, now func() time.Time) *MemoryLimiter {
	if now == nil {
		now = time.Now
	}
	return &MemoryLimiter{limit: limit, window: window, now: now, attempts: map[string][]time.Time{}}
}

// Allow implements Limiter.
func (l *MemoryLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	cutoff := now.Add(-l.window)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.window {
		// Forget idle keys now and then, so the map stays small.
		for k, ts := range l.attempts {
			if len(ts) == 0 || !ts[len(ts)-1].After(cutoff) {
				delete(l.attempts, k)
			}
		}
		l.swept = now
	}
	ts := l.attempts[key]
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	ts = ts[i:]
	if len(ts) >= l.limit {
		l.attempts[key] = ts
		return false, ts[0].Add(l.window).Sub(now), nil
	}
	l.attempts[key] = append(ts, now)
	return true, 0, nil
}
