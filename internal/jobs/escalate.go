package jobs

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
)

// EscalateArgs fires one escalation step of one request.
type EscalateArgs struct {
	RequestID string `json:"requestId"`
	Step      int    `json:"step"`
}

// Kind implements river.JobArgs.
func (EscalateArgs) Kind() string { return "agentgate.escalate" }

// InsertOpts makes the timer unique per request and step.
func (EscalateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EscalateWorker fires escalation steps.
type EscalateWorker struct {
	river.WorkerDefaults[EscalateArgs]
	Approvals *approval.Service
}

// Work implements river.Worker. A step of a request that was decided
// meanwhile does nothing.
func (w *EscalateWorker) Work(ctx context.Context, job *river.Job[EscalateArgs]) error {
	_, err := w.Approvals.Escalate(ctx, job.Args.RequestID, job.Args.Step)
	return err
}

// EscalationScheduler is a TxHook: when a pending request with
// escalation steps is created, it schedules one durable timer per step in
// the creating transaction.
type EscalationScheduler struct{ Runner *Runner }

type sqlTx interface{ SQL() *sql.Tx }

// OnEvents implements approval.TxHook.
func (h EscalationScheduler) OnEvents(ctx context.Context, tx approval.Tx, evs []approval.Event) error {
	for _, e := range evs {
		r := e.Request
		if e.Type != approval.EventRequestCreated || r.Status != approval.StatusPending || len(r.PolicyDecision.Escalate) == 0 {
			continue
		}
		st, ok := tx.(sqlTx)
		if !ok {
			return errors.New("jobs: transaction has no SQL handle")
		}
		for i, step := range r.PolicyDecision.Escalate {
			at := r.CreatedAt.Add(time.Duration(step.After))
			opts := EscalateArgs{}.InsertOpts()
			opts.ScheduledAt = at
			if err := h.Runner.InsertTx(ctx, st.SQL(), EscalateArgs{RequestID: r.ID, Step: i}, &opts); err != nil {
				return err
			}
		}
	}
	return nil
}
