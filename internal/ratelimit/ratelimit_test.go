package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/internal/ratelimit"
)

// start is the time every clocked case starts at; whole milliseconds so
// that Redis (ms scores) and memory (ns) see the same instants.
var start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// backend is one Limiter under test. setTime is nil when the backend's
// clock cannot be controlled (real Redis uses its own TIME).
type backend struct {
	name    string
	limiter ratelimit.Limiter
	setTime func(time.Time)
}

// fakeClock is an injected clock for the memory limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func memoryBackend(t testing.TB) backend {
	clock := &fakeClock{t: start}
	return backend{name: "memory", limiter: ratelimit.NewMemory(&ratelimit.MemoryOptions{Now: clock.Now}), setTime: clock.Set}
}

func miniredisBackend(t testing.TB) backend {
	mr := miniredis.RunT(t)
	mr.SetTime(start)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return backend{name: "miniredis", limiter: ratelimit.NewRedis(rdb, &ratelimit.RedisOptions{Prefix: randomPrefix()}), setTime: mr.SetTime}
}

// realRedisBackend uses the Redis named by AGENTGATE_TEST_REDIS_URL (CI
// sets it) and skips without it. Every test gets its own key prefix.
func realRedisBackend(t testing.TB) backend {
	url := os.Getenv("AGENTGATE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("AGENTGATE_TEST_REDIS_URL not set; real Redis limiter tests skipped (CI sets it)")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("AGENTGATE_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at AGENTGATE_TEST_REDIS_URL does not answer: %v", err)
	}
	return backend{name: "redis", limiter: ratelimit.NewRedis(rdb, &ratelimit.RedisOptions{Prefix: randomPrefix(), Timeout: 2 * time.Second})}
}

func randomPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "agentgate:test:" + hex.EncodeToString(b) + ":"
}

// backends lists every Limiter the table runs against.
var backends = []struct {
	name string
	new  func(testing.TB) backend
}{{"memory", memoryBackend}, {"miniredis", miniredisBackend}, {"redis", realRedisBackend}}

type step struct {
	at        time.Duration // since start
	key       string        // default "k"
	limit     int
	allowed   bool
	remaining int
	reset     time.Duration
}

// limiterCases is the one table every backend runs. Cases whose steps
// all happen at the start need no clock and also run on real Redis.
var limiterCases = []struct {
	name   string
	window time.Duration
	steps  []step
}{
	{
		name: "allows up to the limit, then denies", window: time.Minute,
		steps: []step{
			{limit: 3, allowed: true, remaining: 2, reset: time.Minute},
			{limit: 3, allowed: true, remaining: 1, reset: time.Minute},
			{limit: 3, allowed: true, remaining: 0, reset: time.Minute},
			{limit: 3, allowed: false, remaining: 0, reset: time.Minute},
			{limit: 3, allowed: false, remaining: 0, reset: time.Minute},
		},
	},
	{
		name: "keys are counted apart", window: time.Minute,
		steps: []step{
			{key: "a", limit: 1, allowed: true, remaining: 0, reset: time.Minute},
			{key: "b", limit: 1, allowed: true, remaining: 0, reset: time.Minute},
			{key: "a", limit: 1, allowed: false, remaining: 0, reset: time.Minute},
			{key: "b", limit: 1, allowed: false, remaining: 0, reset: time.Minute},
		},
	},
	{
		name: "a request leaves the window exactly one window after it was made", window: time.Minute,
		steps: []step{
			{at: 0, limit: 2, allowed: true, remaining: 1, reset: time.Minute},
			{at: 10 * time.Second, limit: 2, allowed: true, remaining: 0, reset: 50 * time.Second},
			{at: time.Minute - time.Millisecond, limit: 2, allowed: false, remaining: 0, reset: time.Millisecond},
			{at: time.Minute, limit: 2, allowed: true, remaining: 0, reset: 10 * time.Second},
			{at: time.Minute, limit: 2, allowed: false, remaining: 0, reset: 10 * time.Second},
			{at: 70*time.Second - time.Millisecond, limit: 2, allowed: false, remaining: 0, reset: time.Millisecond},
			{at: 70 * time.Second, limit: 2, allowed: true, remaining: 0, reset: 50 * time.Second},
		},
	},
	{
		name: "denied requests are not recorded", window: time.Minute,
		steps: []step{
			{at: 0, limit: 1, allowed: true, remaining: 0, reset: time.Minute},
			{at: 30 * time.Second, limit: 1, allowed: false, remaining: 0, reset: 30 * time.Second},
			{at: 59 * time.Second, limit: 1, allowed: false, remaining: 0, reset: time.Second},
			{at: time.Minute, limit: 1, allowed: true, remaining: 0, reset: time.Minute},
		},
	},
	{
		name: "the window slides: old requests free slots one by one", window: time.Minute,
		steps: []step{
			{at: 0, limit: 3, allowed: true, remaining: 2, reset: time.Minute},
			{at: 20 * time.Second, limit: 3, allowed: true, remaining: 1, reset: 40 * time.Second},
			{at: 40 * time.Second, limit: 3, allowed: true, remaining: 0, reset: 20 * time.Second},
			{at: 50 * time.Second, limit: 3, allowed: false, remaining: 0, reset: 10 * time.Second},
			{at: 60 * time.Second, limit: 3, allowed: true, remaining: 0, reset: 20 * time.Second},
			{at: 80 * time.Second, limit: 3, allowed: true, remaining: 0, reset: 20 * time.Second},
			{at: 81 * time.Second, limit: 3, allowed: false, remaining: 0, reset: 19 * time.Second},
		},
	},
	{
		name: "a lowered limit waits until enough requests have left", window: time.Minute,
		steps: []step{
			{at: 0, limit: 3, allowed: true, remaining: 2, reset: time.Minute},
			{at: time.Second, limit: 3, allowed: true, remaining: 1, reset: 59 * time.Second},
			{at: 2 * time.Second, limit: 3, allowed: true, remaining: 0, reset: 58 * time.Second},
			// Three recorded, limit now 1: the third must leave, at 62s.
			{at: 3 * time.Second, limit: 1, allowed: false, remaining: 0, reset: 59 * time.Second},
			{at: 61 * time.Second, limit: 1, allowed: false, remaining: 0, reset: time.Second},
			{at: 62 * time.Second, limit: 1, allowed: true, remaining: 0, reset: time.Minute},
		},
	},
	{
		name: "short windows", window: time.Second,
		steps: []step{
			{at: 0, limit: 2, allowed: true, remaining: 1, reset: time.Second},
			{at: 500 * time.Millisecond, limit: 2, allowed: true, remaining: 0, reset: 500 * time.Millisecond},
			{at: 999 * time.Millisecond, limit: 2, allowed: false, remaining: 0, reset: time.Millisecond},
			{at: time.Second, limit: 2, allowed: true, remaining: 0, reset: 500 * time.Millisecond},
			{at: 3 * time.Second, limit: 2, allowed: true, remaining: 1, reset: time.Second},
		},
	},
}

func needsClock(steps []step) bool {
	for _, s := range steps {
		if s.at != 0 {
			return true
		}
	}
	return false
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		for _, tc := range limiterCases {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				b := be.new(t)
				if b.setTime == nil && needsClock(tc.steps) {
					t.Skipf("skipped on %s: the window edges need a controllable clock; they run on memory and miniredis", b.name)
				}
				ctx := context.Background()
				for i, s := range tc.steps {
					if b.setTime != nil {
						b.setTime(start.Add(s.at))
					}
					key := s.key
					if key == "" {
						key = "k"
					}
					got, err := b.limiter.Allow(ctx, key, s.limit, tc.window)
					if err != nil {
						t.Fatalf("%s step %d: %v", b.name, i, err)
					}
					if got.Allowed != s.allowed || got.Remaining != s.remaining || got.Limit != s.limit {
						t.Errorf("%s step %d (at %s, key %s): got allowed=%v remaining=%d limit=%d, want allowed=%v remaining=%d limit=%d",
							b.name, i, s.at, key, got.Allowed, got.Remaining, got.Limit, s.allowed, s.remaining, s.limit)
					}
					// Real Redis runs on its own clock: the steps take a
					// few ms, so its Reset may be that much shorter.
					slack := time.Duration(0)
					if b.setTime == nil {
						slack = time.Second
					}
					if got.Reset > s.reset || got.Reset < s.reset-slack {
						t.Errorf("%s step %d (at %s): reset %s, want %s", b.name, i, s.at, got.Reset, s.reset)
					}
				}
			})
		}
	}
}

// TestLimiterConcurrent proves the check is atomic: many goroutines racing
// for one key get exactly limit successes.
func TestLimiterConcurrent(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			b := be.new(t)
			const limit, workers, each = 100, 8, 50
			var allowed, denied atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range each {
						res, err := b.limiter.Allow(context.Background(), "hot", limit, time.Minute)
						if err != nil {
							t.Errorf("%s: %v", b.name, err)
							return
						}
						if res.Allowed {
							allowed.Add(1)
						} else {
							denied.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if allowed.Load() != limit || denied.Load() != workers*each-limit {
				t.Errorf("%s: allowed %d, denied %d; want %d and %d", b.name, allowed.Load(), denied.Load(), limit, workers*each-limit)
			}
		})
	}
}

func TestLimiterRejectsInvalidArguments(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			b := be.new(t)
			for _, c := range []struct {
				limit  int
				window time.Duration
			}{{0, time.Minute}, {-1, time.Minute}, {1, 0}, {1, time.Microsecond}} {
				if _, err := b.limiter.Allow(context.Background(), "k", c.limit, c.window); err == nil {
					t.Errorf("%s: Allow(limit %d, window %s) succeeded, want an error", b.name, c.limit, c.window)
				}
			}
		})
	}
}

func TestMemorySweepsIdleKeys(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: start}
	m := ratelimit.NewMemory(&ratelimit.MemoryOptions{Now: clock.Now})
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := m.Allow(ctx, k, 5, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(start.Add(30 * time.Second))
	if _, err := m.Allow(ctx, "d", 5, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 4 {
		t.Fatalf("before the sweep interval: %d logs, want 4", n)
	}
	clock.Set(start.Add(ratelimit.SweepInterval + time.Second))
	if _, err := m.Allow(ctx, "e", 5, time.Second); err != nil {
		t.Fatal(err)
	}
	// a, b, c are idle (10s windows long past); d (1h window) and e live.
	if n := m.Len(); n != 2 {
		t.Fatalf("after the sweep: %d logs, want 2 (d and e)", n)
	}
}

// TestMemoryClockStepsBack keeps counting sanely when an injected clock
// goes backwards: the log must stay sorted and the limit must hold.
func TestMemoryClockStepsBack(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: start.Add(time.Minute)}
	m := ratelimit.NewMemory(&ratelimit.MemoryOptions{Now: clock.Now})
	ctx := context.Background()
	if r, _ := m.Allow(ctx, "k", 2, time.Minute); !r.Allowed {
		t.Fatal("first request denied")
	}
	clock.Set(start)
	if r, _ := m.Allow(ctx, "k", 2, time.Minute); !r.Allowed {
		t.Fatal("second request denied")
	}
	if r, _ := m.Allow(ctx, "k", 2, time.Minute); r.Allowed {
		t.Fatal("third request allowed over a limit of 2")
	}
}

// TestRedisWindowUsesServerClock checks on a real Redis what miniredis
// cannot: the script reads the server's TIME and a request leaves the
// window when that clock passes it, and the key expires with the window.
func TestRedisWindowUsesServerClock(t *testing.T) {
	t.Parallel()
	b := realRedisBackend(t)
	ctx := context.Background()
	const window = 200 * time.Millisecond
	if r, err := b.limiter.Allow(ctx, "k", 1, window); err != nil || !r.Allowed {
		t.Fatalf("first: %+v %v", r, err)
	}
	denied, err := b.limiter.Allow(ctx, "k", 1, window)
	if err != nil || denied.Allowed {
		t.Fatalf("second: %+v %v, want denied", denied, err)
	}
	if denied.Reset <= 0 || denied.Reset > window {
		t.Fatalf("reset %s, want within (0, %s]", denied.Reset, window)
	}
	// Poll (bounded) until the server clock has moved past the window.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := b.limiter.Allow(ctx, "k", 1, window)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still denied 5s after a 200ms window")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
