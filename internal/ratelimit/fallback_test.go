package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/internal/ratelimit"
)

// fakeLimiter is a Limiter whose answer is a function field.
type fakeLimiter struct {
	mu        sync.Mutex
	calls     int
	AllowFunc func() (ratelimit.Result, error)
}

func (f *fakeLimiter) Allow(context.Context, string, int, time.Duration) (ratelimit.Result, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return f.AllowFunc()
}

func (f *fakeLimiter) Calls() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

type recordingObserver struct {
	mu        sync.Mutex
	ups       []bool
	fallbacks int
}

func (o *recordingObserver) RateLimitBackendUp(up bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ups = append(o.ups, up)
}

func (o *recordingObserver) RateLimitFallback() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fallbacks++
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

func TestFallbackPolicy(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: start}
	var logs syncBuffer
	outage := true
	primary := &fakeLimiter{AllowFunc: func() (ratelimit.Result, error) {
		if outage {
			return ratelimit.Result{}, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
		}
		return ratelimit.Result{Allowed: true, Limit: 5, Remaining: 4}, nil
	}}
	obs := &recordingObserver{}
	f := ratelimit.NewFallback(primary, ratelimit.NewMemory(&ratelimit.MemoryOptions{Now: clock.Now}), &ratelimit.FallbackOptions{
		Cooldown: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Observer: obs, Now: clock.Now,
	})
	ctx := context.Background()
	allow := func() ratelimit.Result {
		t.Helper()
		r, err := f.Allow(ctx, "k", 2, time.Minute)
		if err != nil {
			t.Fatalf("Allow during an outage failed: %v", err)
		}
		return r
	}

	// The outage starts: the first check tries Redis, then falls back.
	if r := allow(); !r.Allowed || r.Remaining != 1 {
		t.Fatalf("first check: %+v, want allowed by memory with 1 remaining", r)
	}
	if !f.Down() || primary.Calls() != 1 {
		t.Fatalf("down=%v primary calls=%d, want down after 1 call", f.Down(), primary.Calls())
	}
	// Within the cooldown Redis is not asked; memory enforces the limit.
	allow()
	if r := allow(); r.Allowed {
		t.Fatalf("third check allowed over a limit of 2 by the fallback: %+v", r)
	}
	if primary.Calls() != 1 {
		t.Fatalf("primary asked %d times during the cooldown, want 1", primary.Calls())
	}
	// After the cooldown one probe goes to Redis; it still fails.
	clock.Set(start.Add(2 * time.Second))
	allow()
	if primary.Calls() != 2 {
		t.Fatalf("primary calls %d after the cooldown, want 2 (one probe)", primary.Calls())
	}
	if n := strings.Count(logs.String(), "Redis is unreachable"); n != 1 {
		t.Fatalf("outage logged %d times, want once:\n%s", n, logs.String())
	}
	// Redis is back: the next probe succeeds and the answer is Redis's.
	outage = false
	clock.Set(start.Add(5 * time.Second))
	if r := allow(); r.Remaining != 4 {
		t.Fatalf("after recovery: %+v, want Redis's answer", r)
	}
	if f.Down() {
		t.Fatal("still down after a successful probe")
	}
	if !strings.Contains(logs.String(), "Redis answers again") {
		t.Fatalf("recovery not logged:\n%s", logs.String())
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if want := []bool{true, false, true}; !equalBools(obs.ups, want) || obs.fallbacks != 4 {
		t.Fatalf("observer: ups %v fallbacks %d, want %v and 4", obs.ups, obs.fallbacks, want)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFallbackCallerCancelIsNotAnOutage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	primary := &fakeLimiter{AllowFunc: func() (ratelimit.Result, error) {
		cancel()
		return ratelimit.Result{}, context.Canceled
	}}
	f := ratelimit.NewFallback(primary, ratelimit.NewMemory(nil), nil)
	if _, err := f.Allow(ctx, "k", 1, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if f.Down() {
		t.Fatal("a cancelled caller marked Redis down")
	}
}

// TestFallbackRedisOutage runs the real Redis limiter against a miniredis
// that goes away and comes back.
func TestFallbackRedisOutage(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	clock := &fakeClock{t: start}
	f := ratelimit.NewFallback(ratelimit.NewRedis(rdb, nil), ratelimit.NewMemory(nil), &ratelimit.FallbackOptions{Now: clock.Now})
	ctx := context.Background()
	if r, err := f.Allow(ctx, "k", 1, time.Minute); err != nil || !r.Allowed {
		t.Fatalf("with Redis up: %+v %v", r, err)
	}
	mr.Close()
	// The fallback shadowed the request Redis allowed, so it goes on from
	// this process's history: still denied.
	if r, err := f.Allow(ctx, "k", 1, time.Minute); err != nil || r.Allowed {
		t.Fatalf("during the outage: %+v %v, want denied by the fallback", r, err)
	}
	if !f.Down() {
		t.Fatal("not down after Redis closed")
	}
	// A key Redis never saw is counted in memory alone.
	if r, err := f.Allow(ctx, "fresh", 1, time.Minute); err != nil || !r.Allowed {
		t.Fatalf("fresh key during the outage: %+v %v, want allowed", r, err)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	clock.Set(start.Add(time.Minute))
	r, err := f.Allow(ctx, "k", 1, time.Minute)
	if err != nil || f.Down() {
		t.Fatalf("after restart: %+v %v down=%v", r, err, f.Down())
	}
	if r.Allowed {
		t.Fatal("after restart Redis's earlier count was ignored: want denied (its window still holds the first request)")
	}
}
