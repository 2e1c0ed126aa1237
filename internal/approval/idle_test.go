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
	counter := &txCounter{Store: b.st}
	svc := approval.NewService(counter, approval.Config{DefaultTimeout: time.Hour}, approval.Options{})
	sealCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.RunSealer(sealCtx, 5*time.Millisecond, time.Millisecond); close(done) }()
	defer func() { stop(); <-done }()

	time.Sleep(100 * time.Millisecond) // ~20 ticks with nothing to seal
	if n := counter.n.Load(); n != 0 {
		t.Fatalf("%d write transactions with nothing to seal, want 0", n)
	}
	if _, _, err := b.svc.Create(ctx, agent, approval.CreateInput{Action: "b"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := b.st.AuditCountUnsealed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still unsealed after 5 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if counter.n.Load() == 0 {
		t.Error("the events were sealed without a write transaction through the sealer's store")
	}
}
