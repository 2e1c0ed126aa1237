package approval_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/policy"
)

// txCounter counts the write transactions a store is asked for.
type txCounter struct {
	approval.Store
	n atomic.Int64
}

func (c *txCounter) WithTx(ctx context.Context, fn func(tx approval.Tx) error) error {
	c.n.Add(1)
	return c.Store.WithTx(ctx, fn)
}

// runIdle runs loop on a second service over b's store that counts its
// write transactions, checks that ~20 rounds of it with nothing to do
// write nothing, and returns the counter; loop stops when the test ends.
func runIdle(t *testing.T, b *bundle, what string, loop func(ctx context.Context, svc *approval.Service)) *txCounter {
	t.Helper()
	counter := &txCounter{Store: b.st}
	svc := approval.NewService(counter, approval.Config{DefaultTimeout: time.Hour}, approval.Options{})
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { loop(loopCtx, svc); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	time.Sleep(100 * time.Millisecond) // ~20 rounds at 5 ms
	if n := counter.n.Load(); n != 0 {
		t.Fatalf("%d write transactions while %s, want 0", n, what)
	}
	return counter
}

// eventually polls cond for up to 5 s; cond returns whether it holds and
// what it saw.
func eventually(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: %s", saw)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The sweeper writes nothing while nothing is due, and ends a request
// within an interval once its expiry passes.
func TestExpirySweeperWritesOnlyWhenDue(t *testing.T) {
	b, _ := setup(t)
	addPolicy(t, b, policy.Policy{Name: "timeouts", Priority: 1, Enabled: true, Rules: []policy.Rule{
		{Match: map[string]any{"action": "a"}, Decision: policy.RouteToHuman, Timeout: policy.Duration(time.Minute), OnTimeout: "deny"},
	}})
	r, _, err := b.svc.Create(ctx, agent, approval.CreateInput{Action: "a"})
	if err != nil {
		t.Fatal(err)
	}
	counter := runIdle(t, b, "nothing was due", func(ctx context.Context, svc *approval.Service) {
		svc.RunExpirySweeper(ctx, 5*time.Millisecond)
	})
	b.clock.add(61 * time.Second)
	eventually(t, func() (bool, string) {
		got, err := b.svc.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status == approval.StatusDenied, "status " + string(got.Status) + ", want denied (onTimeout)"
	})
	if counter.n.Load() == 0 {
		t.Error("the request ended without a write transaction through the sweeper's store")
	}
}

// The sealer writes nothing while every event is sealed, and seals new
// events (here made outside its own process's notice) within a tick.
func TestSealerWritesOnlyWhenThereIsWork(t *testing.T) {
	b, _ := setup(t)
	if _, _, err := b.svc.Create(ctx, agent, approval.CreateInput{Action: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.SealAudit(ctx, approval.SealBatch); err != nil {
		t.Fatal(err)
	}
	counter := runIdle(t, b, "nothing was to seal", func(ctx context.Context, svc *approval.Service) {
		svc.RunSealer(ctx, 5*time.Millisecond, time.Millisecond)
	})
	if _, _, err := b.svc.Create(ctx, agent, approval.CreateInput{Action: "b"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() (bool, string) {
		n, err := b.st.AuditCountUnsealed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n == 0, fmt.Sprintf("%d events still unsealed", n)
	})
	if counter.n.Load() == 0 {
		t.Error("the events were sealed without a write transaction through the sealer's store")
	}
}
