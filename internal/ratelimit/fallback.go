package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Observer is told how the shared backend is doing; the metrics package
// implements it.
type Observer interface {
	// RateLimitBackendUp reports whether the primary backend answers.
	RateLimitBackendUp(up bool)
	// RateLimitFallback counts one check answered by the fallback.
	RateLimitFallback()
}

// Fallback asks Primary (Redis) and, while Primary fails, Secondary
// (per-process memory), so that a Redis outage degrades limits to
// per-replica counting instead of failing every request.
//
// The policy: the first failure logs one warning and marks the outage;
// during it every check goes to Secondary, and one check per Cooldown
// probes Primary again. The first success logs the recovery. While
// Primary answers, the requests it allows are also recorded in Secondary,
// so during an outage each process goes on from its own recent traffic:
// one replica stays exact, N replicas allow up to N times the limit.
// Counts made in Secondary during the outage are not carried over to
// Primary.
type Fallback struct {
	primary, secondary Limiter
	cooldown           time.Duration
	log                *slog.Logger
	obs                Observer
	now                func() time.Time

	mu      sync.Mutex
	down    bool
	retryAt time.Time
	probing bool
}

// FallbackOptions configure a Fallback; nil means defaults.
type FallbackOptions struct {
	// Cooldown is the time between probes of Primary during an outage.
	// Defaults to 2s.
	Cooldown time.Duration
	// Logger receives one warning per outage and one line per recovery.
	Logger *slog.Logger
	// Observer, optional, receives the backend state and fallback counts.
	Observer Observer
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

type nopObserver struct{}

func (nopObserver) RateLimitBackendUp(bool) {}
func (nopObserver) RateLimitFallback()      {}

// NewFallback returns a Fallback from primary to secondary.
func NewFallback(primary, secondary Limiter, opts *FallbackOptions) *Fallback {
	f := &Fallback{primary: primary, secondary: secondary, cooldown: 2 * time.Second,
		log: slog.New(slog.DiscardHandler), obs: nopObserver{}, now: time.Now}
	if opts != nil {
		if opts.Cooldown > 0 {
			f.cooldown = opts.Cooldown
		}
		if opts.Logger != nil {
			f.log = opts.Logger
		}
		if opts.Observer != nil {
			f.obs = opts.Observer
		}
		if opts.Now != nil {
			f.now = opts.Now
		}
	}
	f.obs.RateLimitBackendUp(true)
	return f
}

var _ Limiter = (*Fallback)(nil)

// Allow implements Limiter. It fails only for invalid arguments or when
// ctx is done.
func (f *Fallback) Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error) {
	if err := validate(limit, window); err != nil {
		return Result{}, err
	}
	if f.usePrimary() {
		res, err := f.primary.Allow(ctx, key, limit, window)
		if err == nil {
			f.succeeded()
			if res.Allowed {
				// Shadow what this process let through, so that an outage
				// continues from its recent history instead of from zero.
				_, _ = f.secondary.Allow(ctx, key, limit, window)
			}
			return res, nil
		}
		if ctx.Err() != nil {
			// The caller went away: that says nothing about Redis.
			f.abandoned()
			return Result{}, ctx.Err()
		}
		f.failed(err)
	}
	f.obs.RateLimitFallback()
	return f.secondary.Allow(ctx, key, limit, window)
}

// Down reports whether Primary is considered unreachable.
func (f *Fallback) Down() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *Fallback) usePrimary() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return true
	}
	if f.probing || f.now().Before(f.retryAt) {
		return false
	}
	f.probing = true
	return true
}

func (f *Fallback) succeeded() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probing = false
	if f.down {
		f.down = false
		f.obs.RateLimitBackendUp(true)
		f.log.Info("rate limiter: Redis answers again; limits are shared between replicas again")
	}
}

func (f *Fallback) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probing = false
	f.retryAt = f.now().Add(f.cooldown)
	if !f.down {
		f.down = true
		f.obs.RateLimitBackendUp(false)
		f.log.Warn("rate limiter: Redis is unreachable; falling back to per-process in-memory limits until it answers",
			"err", err, "retry_every", f.cooldown.String())
	}
}

func (f *Fallback) abandoned() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probing = false
}
