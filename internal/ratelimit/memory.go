package ratelimit

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Memory is the in-process Limiter: exact sliding-window logs in a map.
// It is the embedded default and the fallback when Redis is unreachable;
// with several replicas each one counts on its own.
type Memory struct {
	now  func() time.Time
	base time.Time // offsets are taken from here, on the monotonic clock when now is time.Now

	mu        sync.Mutex
	logs      map[string]*windowLog
	last      time.Duration // latest time seen, so an injected clock that steps back cannot unsort a log
	nextSweep time.Duration
}

type windowLog struct {
	times  []time.Duration // ascending offsets from base of recorded requests
	window time.Duration
}

// SweepInterval is how often Memory drops the logs of idle keys.
const SweepInterval = time.Minute

// MemoryOptions configure a Memory limiter; nil means defaults.
type MemoryOptions struct {
	// Now is the clock. Defaults to time.Now; tests inject their own.
	Now func() time.Time
}

// NewMemory returns an empty in-memory limiter.
func NewMemory(opts *MemoryOptions) *Memory {
	now := time.Now
	if opts != nil && opts.Now != nil {
		now = opts.Now
	}
	return &Memory{now: now, base: now(), logs: map[string]*windowLog{}, nextSweep: SweepInterval}
}

var _ Limiter = (*Memory)(nil)

// Allow implements Limiter. It never fails except for invalid arguments.
func (m *Memory) Allow(_ context.Context, key string, limit int, window time.Duration) (Result, error) {
	if err := validate(limit, window); err != nil {
		return Result{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := max(m.now().Sub(m.base), m.last)
	m.last = now
	if now >= m.nextSweep {
		m.sweep(now)
	}
	l := m.logs[key]
	if l == nil {
		l = &windowLog{}
		m.logs[key] = l
	}
	l.window = window
	// A request at t counts while now < t+window: drop those with t <= now-window.
	cut := now - window
	i := sort.Search(len(l.times), func(i int) bool { return l.times[i] > cut })
	l.times = l.times[i:]
	if n := len(l.times); n >= limit {
		// Room for one more once n-limit+1 requests have left the window.
		return Result{Limit: limit, Reset: l.times[n-limit] + window - now}, nil
	}
	l.times = append(l.times, now)
	return Result{Allowed: true, Limit: limit, Remaining: limit - len(l.times), Reset: l.times[0] + window - now}, nil
}

// sweep drops the logs whose every request has left the window, so idle
// keys (and client addresses) do not accumulate. Called with mu held.
func (m *Memory) sweep(now time.Duration) {
	for k, l := range m.logs {
		if n := len(l.times); n == 0 || l.times[n-1] <= now-l.window {
			delete(m.logs, k)
		}
	}
	m.nextSweep = now + SweepInterval
}

// Len returns the number of keys with a live log, for tests and metrics.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.logs)
}
