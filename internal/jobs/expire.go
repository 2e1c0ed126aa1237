package jobs

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
)

// ExpireArgs is the expiry sweep as a River job. Expiry is now swept by
// approval.Service.RunExpirySweeper in every process; the job stays so
// that sweeps queued by earlier versions still complete.
type ExpireArgs struct{}

// Kind implements river.JobArgs.
func (ExpireArgs) Kind() string { return "agentgate.expire_due" }

// ExpireWorker ends every due request.
type ExpireWorker struct {
	river.WorkerDefaults[ExpireArgs]
	Approvals *approval.Service
}

// Work implements river.Worker.
func (w *ExpireWorker) Work(ctx context.Context, _ *river.Job[ExpireArgs]) error {
	return w.Approvals.ExpireAllDue(ctx)
}
