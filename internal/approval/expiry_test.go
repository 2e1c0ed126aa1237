package approval_test

import (
	"context"
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
	counter := &txCounter{Store: b.st}
	svc := approval.NewService(counter, approval.Config{DefaultTimeout: time.Hour}, approval.Options{})
	sweepCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.RunExpirySweeper(sweepCtx, 5*time.Millisecond); close(done) }()
	defer func() { stop(); <-done }()

	time.Sleep(100 * time.Millisecond) // ~20 passes with nothing due
	if n := counter.n.Load(); n != 0 {
		t.Fatalf("%d write transactions while nothing was due, want 0", n)
	}
	b.clock.add(61 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := b.svc.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == approval.StatusDenied {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %s 5 s after the expiry passed, want denied (onTimeout)", got.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if counter.n.Load() == 0 {
		t.Error("the request ended without a write transaction through the sweeper's store")
	}
}
