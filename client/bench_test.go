package client

import (
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/testserver"
)

// BenchmarkRequest measures asking (POST /api/requests) through the SDK
// against the full server on SQLite.
func BenchmarkRequest(b *testing.B) {
	srv := testserver.Start(b, nil)
	c := mustNew(b, srv.URL, srv.CreateKey(b, "agent", auth.ScopeRequestCreate))
	ctx := b.Context()
	for b.Loop() {
		if _, err := c.Request(ctx, RequestInput{Action: "bench", Params: map[string]any{"n": 1}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWaitWakeup measures how long after Decide returns a blocked
// Wait returns the decision: the agent-visible latency of a decision.
// Reported as wake-µs (mean per decision).
func BenchmarkWaitWakeup(b *testing.B) {
	srv := testserver.Start(b, nil)
	p := newProxy(b, srv.URL)
	agent := mustNew(b, p.URL, srv.CreateKey(b, "agent", auth.ScopeRequestCreate, auth.ScopeRequestRead))
	approver := mustNew(b, srv.URL, srv.CreateKey(b, "approver", auth.ScopeRequestDecide))
	ctx := b.Context()
	var total time.Duration
	for b.Loop() {
		r, err := agent.Request(ctx, RequestInput{Action: "bench_wait"})
		if err != nil {
			b.Fatal(err)
		}
		returned := make(chan time.Time, 1)
		go func() {
			if _, err := agent.Wait(ctx, r.ID); err != nil {
				b.Error(err)
			}
			returned <- time.Now()
		}()
		p.waitSeen(b, "GET /api/requests/"+r.ID+"/wait")
		if _, err := approver.Decide(ctx, r.ID, DecideInput{Decision: StatusApproved}); err != nil {
			b.Fatal(err)
		}
		decided := time.Now()
		total += (<-returned).Sub(decided)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "wake-µs")
}
