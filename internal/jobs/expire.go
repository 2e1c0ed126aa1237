package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
)

// ExpireArgs is the periodic sweep that ends requests past their expiry.
type ExpireArgs struct{}

// Kind implements river.JobArgs.
func (ExpireArgs) Kind() string { return "agentgate.expire_due" }

// ExpireWorker ends due requests, in batches, until none is left.
type ExpireWorker struct {
	river.WorkerDefaults[ExpireArgs]
	Approvals *approval.Service
}

// expireBatch bounds one transaction of the sweep.
const expireBatch = 200

// Work implements river.Worker.
func (w *ExpireWorker) Work(ctx context.Context, _ *river.Job[ExpireArgs]) error {
	for {
		n, err := w.Approvals.ExpireDue(ctx, expireBatch)
		if err != nil || n < expireBatch {
			return err
		}
	}
}

// ExpirySweep is the periodic job: every interval, and at once when the
// leader starts, so expiries that passed while no server ran fire within
// seconds of the next start. Only River's elected leader enqueues it, and
// each transition is a compare-and-set, so each request ends exactly once.
func ExpirySweep(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return ExpireArgs{}, &river.InsertOpts{MaxAttempts: 1}
		},
		&river.PeriodicJobOpts{ID: "expire_due", RunOnStart: true})
}

// SealArgs is the periodic job that adds new audit events to the chain.
type SealArgs struct{}

// Kind implements river.JobArgs.
func (SealArgs) Kind() string { return "agentgate.seal_audit" }

// SealWorker seals in batches until nothing is left.
type SealWorker struct {
	river.WorkerDefaults[SealArgs]
	Approvals *approval.Service
}

// Work implements river.Worker.
func (w *SealWorker) Work(ctx context.Context, _ *river.Job[SealArgs]) error {
	for {
		n, err := w.Approvals.SealAudit(ctx, 1000)
		if err != nil || n < 1000 {
			return err
		}
	}
}

// AuditSealer is the periodic sealing job (leader only).
func AuditSealer(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return SealArgs{}, &river.InsertOpts{MaxAttempts: 1} },
		&river.PeriodicJobOpts{ID: "seal_audit", RunOnStart: true})
}
