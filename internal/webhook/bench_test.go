package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/jobs"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/testserver"
	"github.com/agentgate/agentgate/internal/webhook"
)

// benchStack is the approval service with the webhook hook on a new
// database, and a job runner that is not started: sealing enqueues batch
// jobs, and nothing works them until the runner is started (or a test
// runs one with DeliverBatch). The sealer does not run by itself either.
type benchStack struct {
	st        *store.Store
	approvals *approval.Service
	webhooks  *webhook.Service
	runner    *jobs.Runner
}

func newBenchStack(b testing.TB, dbURL string, receiverURL string, subscribers int) *benchStack {
	b.Helper()
	cfg, err := config.Load()
	if err != nil {
		b.Fatal(err)
	}
	cfg.DatabaseURL = dbURL
	if dbURL == "" {
		cfg.DatabaseURL = filepath.Join(b.TempDir(), "bench.db")
	}
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	st, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	wh, err := webhook.NewService(st, webhook.Config{AllowPrivate: true, RetryBase: 10 * time.Millisecond}, webhook.Options{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	workers := river.NewWorkers()
	wh.AddWorkers(workers)
	runner, err := jobs.New(st, jobs.Options{Workers: workers, Queues: map[string]int{webhook.QueueName: cfg.WebhookWorkers}, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	wh.SetQueue(runner)
	for range subscribers {
		if _, _, err := wh.Create(ctx, approval.Actor{Name: "bench"}, webhook.Input{URL: receiverURL, Events: []string{"*"}}); err != nil {
			b.Fatal(err)
		}
	}
	svc := approval.NewService(st, approval.Config{}, approval.Options{})
	svc.AddSealHook(wh)
	return &benchStack{st: st, approvals: svc, webhooks: wh, runner: runner}
}

var benchAgent = approval.Actor{ID: "agent-bench", Name: "bench", Type: approval.ActorAgent}

// BenchmarkCreateRequest measures request creation through the approval
// service with 0 and 3 webhook subscribers (each subscribed to "*"), with
// the sealer running as in the server: every seal enqueues one batch job
// per subscriber, and the seal of the last events is timed too. The batch
// jobs are not worked (that is BenchmarkDeliver), so the numbers isolate
// what webhooks add to a create and its seal. It reports creates/s, the
// process's CPU time per create and the batch jobs per create. Run:
//
//	go test -run '^$' -bench 'BenchmarkCreateRequest$' -benchtime 3000x -count 5 ./internal/webhook/
//
// With AGENTGATE_TEST_POSTGRES_URL set it runs on PostgreSQL too.
func BenchmarkCreateRequest(b *testing.B) {
	rc := newReceiver(b, nil)
	dbs := []string{"sqlite"}
	if os.Getenv("AGENTGATE_TEST_POSTGRES_URL") != "" {
		dbs = append(dbs, "postgres")
	}
	for _, db := range dbs {
		for _, subs := range []int{0, 3} {
			b.Run(fmt.Sprintf("db=%s/subscribers=%d", db, subs), func(b *testing.B) {
				url := ""
				if db == "postgres" {
					url = testserver.PostgresURL(b)
				}
				benchCreate(b, newBenchStack(b, url, rc.URL, subs))
			})
		}
	}
}

func benchCreate(b *testing.B, s *benchStack) {
	ctx := context.Background()
	// The sealer runs during the timed loop, as in the server: it hands
	// the committed events to the webhook hook, which enqueues the batch
	// jobs.
	sctx, stopSealer := context.WithCancel(ctx)
	sealerDone := make(chan struct{})
	go func() { s.approvals.RunSealer(sctx, time.Second, 20*time.Millisecond); close(sealerDone) }()
	cpu := cpuTime()
	b.SetParallelism(4) // 8 concurrent creators on 2 cores: agents wait on the database, not on CPU
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.approvals.Create(ctx, benchAgent, approval.CreateInput{Action: "bench.create"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	created := b.Elapsed()
	stopSealer()
	<-sealerDone
	for { // the fan-out of the last events, still timed: it is part of the cost
		n, err := s.approvals.SealAudit(ctx, approval.SealBatch)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	b.StopTimer()
	cpuUsed := cpuTime() - cpu
	b.ReportMetric(float64(b.N)/created.Seconds(), "creates/s")
	b.ReportMetric(float64(cpuUsed.Microseconds())/float64(b.N), "cpu-µs/op")
	ws, err := s.webhooks.List(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// Every create's event is in exactly one batch job of each subscriber.
	for _, w := range ws {
		if n := s.coverage(b, w.ID); n != b.N {
			b.Fatalf("the batch jobs of %s cover %d created events, want %d", w.ID, n, b.N)
		}
	}
	b.ReportMetric(float64(len(s.batches(b)))/float64(b.N), "jobs/op")
	if n := s.count(b, `SELECT COUNT(*) FROM webhook_deliveries`); n != 0 {
		b.Fatalf("%d deliveries written while creating, want 0", n)
	}
}

// coverage checks that the batch jobs of webhook webhookID have disjoint
// seq ranges and returns how many "created" events the ranges hold.
func (s *benchStack) coverage(t testing.TB, webhookID string) int {
	t.Helper()
	var mine []webhook.BatchArgs
	for _, a := range s.batches(t) {
		if a.WebhookID == webhookID {
			mine = append(mine, a)
		}
	}
	return batchCoverage(t, s.st.DB(), mine)
}

// BenchmarkDeliver measures delivery throughput: b.N requests are created
// and sealed events-per-seal at a time (untimed), then the job runner
// starts and the timer runs until a local receiver has every delivery and
// every one is recorded. One event per seal is the worst case (a batch job
// per delivery); the sealer's batches in a busy server hold tens of events
// (see BenchmarkCreateRequestLive). Run:
//
//	go test -run '^$' -bench 'BenchmarkDeliver$' -benchtime 3000x -count 5 ./internal/webhook/
func BenchmarkDeliver(b *testing.B) {
	dbs := []string{"sqlite"}
	if os.Getenv("AGENTGATE_TEST_POSTGRES_URL") != "" {
		dbs = append(dbs, "postgres")
	}
	for _, db := range dbs {
		for _, perSeal := range []int{1, 20, 500} {
			b.Run(fmt.Sprintf("db=%s/events-per-seal=%d", db, perSeal), func(b *testing.B) {
				url := ""
				if db == "postgres" {
					url = testserver.PostgresURL(b)
				}
				rc := newReceiver(b, func(int) int { return http.StatusNoContent })
				s := newBenchStack(b, url, rc.URL, 1)
				ctx := context.Background()
				for range b.N {
					if _, _, err := s.approvals.Create(ctx, benchAgent, approval.CreateInput{Action: "bench.deliver"}); err != nil {
						b.Fatal(err)
					}
				}
				for {
					n, err := s.approvals.SealAudit(ctx, perSeal)
					if err != nil {
						b.Fatal(err)
					}
					if n == 0 {
						break
					}
				}
				cpu := cpuTime()
				b.ResetTimer()
				if err := s.runner.Start(ctx); err != nil {
					b.Fatal(err)
				}
				rc.waitHits(b, b.N, 5*time.Minute)
				for s.count(b, `SELECT COUNT(*) FROM webhook_deliveries`) < b.N {
					time.Sleep(10 * time.Millisecond)
				}
				b.StopTimer()
				if n := len(rc.all()); n != b.N {
					b.Fatalf("receiver got %d deliveries, want %d", n, b.N)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
				b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/delivery")
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				_ = s.runner.Stop(sctx)
			})
		}
	}
}

// BenchmarkCreateRequestLive is the whole server over HTTP (8 concurrent
// clients), with
// deliveries worked while requests are created (they share the CPU and,
// on SQLite, the single writer). It reports creates/s and the deliveries
// per second over the time until every delivery has arrived. Run:
//
//	go test -run '^$' -bench BenchmarkCreateRequestLive -benchtime 2000x ./internal/webhook/
func BenchmarkCreateRequestLive(b *testing.B) {
	dbs := []string{"sqlite"}
	if os.Getenv("AGENTGATE_TEST_POSTGRES_URL") != "" {
		dbs = append(dbs, "postgres")
	}
	for _, db := range dbs {
		for _, subs := range []int{0, 3} {
			b.Run(fmt.Sprintf("db=%s/subscribers=%d", db, subs), func(b *testing.B) {
				url := ""
				if db == "postgres" {
					url = testserver.PostgresURL(b)
				}
				rc := newReceiver(b, func(int) int { return http.StatusNoContent })
				s := testserver.Start(b, &testserver.Options{DatabaseURL: url, Log: io.Discard, Configure: fastRetries(10 * time.Millisecond)})
				for range subs {
					createWebhook(b, s, rc.URL, []string{"*"}, "")
				}
				key := s.CreateKey(b, "agent", "request:create")
				b.SetParallelism(4)
				cpu := cpuTime()
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						createRequest(b, s.URL, key, "bench.live")
					}
				})
				created := time.Since(start)
				if subs > 0 {
					rc.waitHits(b, b.N*subs, 5*time.Minute)
				}
				all := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/created.Seconds(), "creates/s")
				b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
				if subs > 0 {
					b.ReportMetric(float64(b.N*subs)/all.Seconds(), "deliveries/s")
				}
			})
		}
	}
}

// cpuTime is the CPU time this process has used. The machines these
// benchmarks run on are shared, so wall-clock rates are noisy; CPU time
// per operation is the steadier comparison.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
