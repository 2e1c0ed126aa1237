package channels

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
)

// PostArgs is the River job that posts one notification.
type PostArgs struct {
	NotificationID string `json:"notificationId"`
}

// Kind implements river.JobArgs.
func (PostArgs) Kind() string { return "agentgate.channel_post" }

// UpdateArgs is the River job that makes a posted message show its
// request's current state.
type UpdateArgs struct {
	NotificationID string `json:"notificationId"`
}

// Kind implements river.JobArgs.
func (UpdateArgs) Kind() string { return "agentgate.channel_update" }

// AddWorkers registers the post and update workers.
func (s *Service) AddWorkers(w *river.Workers) {
	river.AddWorker(w, &postWorker{s: s})
	river.AddWorker(w, &updateWorker{s: s})
}

// jobTimeout bounds one attempt: the chat APIs answer in well under a
// second, SMTP may take a few.
const jobTimeout = 60 * time.Second

type postWorker struct {
	river.WorkerDefaults[PostArgs]
	s *Service
}

func (w *postWorker) Timeout(*river.Job[PostArgs]) time.Duration { return jobTimeout }

func (w *postWorker) Work(ctx context.Context, job *river.Job[PostArgs]) error {
	return w.s.post(ctx, job.Args.NotificationID, job.Attempt, job.MaxAttempts)
}

type updateWorker struct {
	river.WorkerDefaults[UpdateArgs]
	s *Service
}

func (w *updateWorker) Timeout(*river.Job[UpdateArgs]) time.Duration { return jobTimeout }

func (w *updateWorker) Work(ctx context.Context, job *river.Job[UpdateArgs]) error {
	return w.s.update(ctx, job.Args.NotificationID, job.Attempt, job.MaxAttempts)
}

// stateKey identifies what a message shows: a request looks the same
// while its status, votes, escalation and update time do.
func stateKey(r *approval.Request) string {
	return fmt.Sprintf("%s|%d|%d|%d", r.Status, r.ApprovalVotes, r.EscalationLevel, r.UpdatedAt.UnixNano())
}

// post runs one attempt of notification id.
func (s *Service) post(ctx context.Context, id string, attempt, maxAttempts int) error {
	n, err := s.store.NotificationGetByID(ctx, id)
	if errors.Is(err, approval.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("notification %s does not exist", id))
	}
	if err != nil {
		return err
	}
	if n.Status != StatusPending {
		return nil // done by an earlier attempt
	}
	nt := s.notifiers[n.Channel]
	if nt == nil {
		err := Permanent(s.usable(n.Channel))
		return s.failed(ctx, n, "post", err, attempt, maxAttempts)
	}
	r, err := s.approvals.Get(ctx, n.RequestID)
	if err != nil {
		return err
	}
	if r.Decided() {
		return s.skip(ctx, n)
	}
	m, err := s.Message(ctx, r, n)
	if err != nil {
		return err
	}
	sent, err := nt.Post(ctx, n, m)
	if err != nil {
		if ctx.Err() != nil && !IsPermanent(err) {
			return ctx.Err() // shutting down: River makes the job available again
		}
		return s.failed(ctx, n, "post", err, attempt, maxAttempts)
	}
	return s.sent(ctx, n, sent, attempt, nt.Updatable(), stateKey(r))
}

// sent records a posted message and, in the same transaction, asks for an
// update when the request changed while the message was on its way (an
// update job that ran meanwhile found the notification still pending and
// left it to us).
func (s *Service) sent(ctx context.Context, n *Notification, sent Sent, attempt int, updatable bool, rendered string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.store.WithChannelTx(ctx, func(tx Tx) error {
		now := tx.Now()
		n.Status, n.ExternalChannel, n.ExternalID = StatusSent, sent.Channel, sent.ID
		n.Attempts, n.LastError, n.UpdatedAt, n.SentAt = attempt, "", now, now
		if err := tx.NotificationUpdate(ctx, n); err != nil {
			return err
		}
		det := map[string]any{"channel": n.Channel, "target": n.Target, "notificationId": n.ID, "trigger": n.Reason, "attempt": attempt}
		if n.Step > 0 {
			det["step"] = n.Step
		}
		if err := tx.AuditInsert(ctx, auditEvent(n, approval.EventNotificationSent, det, now)); err != nil {
			return err
		}
		if !updatable {
			return nil
		}
		r, err := tx.RequestGetByID(ctx, n.RequestID)
		if err != nil || stateKey(r) == rendered {
			return err
		}
		return s.queue.InsertManyTx(ctx, tx.SQL(), []river.InsertManyParams{{Args: UpdateArgs{NotificationID: n.ID}, InsertOpts: s.insertOpts()}})
	})
}

// skip marks a notification whose request was decided before it went out.
func (s *Service) skip(ctx context.Context, n *Notification) error {
	return s.store.WithChannelTx(ctx, func(tx Tx) error {
		n.Status, n.UpdatedAt, n.LastError = StatusSkipped, tx.Now(), "the request was decided before the message was sent"
		return tx.NotificationUpdate(ctx, n)
	})
}

// maxErrorText bounds stored error texts.
const maxErrorText = 500

func errorText(err error) string {
	s := err.Error()
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// failed records a failed attempt of op on n: always on the row, and in
// the request's timeline on the first attempt and on the last one (so a
// channel that is down shows at once, without one entry per retry). It
// returns what the worker returns to River.
func (s *Service) failed(ctx context.Context, n *Notification, op string, err error, attempt, maxAttempts int) error {
	permanent := IsPermanent(err)
	final := permanent || attempt >= maxAttempts
	text := errorText(err)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rerr := s.store.WithChannelTx(rctx, func(tx Tx) error {
		now := tx.Now()
		n.LastError, n.UpdatedAt = text, now
		if op == "post" {
			n.Attempts = attempt
			if final {
				n.Status = StatusFailed
			}
		}
		if err := tx.NotificationUpdate(rctx, n); err != nil {
			return err
		}
		if attempt == 1 || final {
			return tx.AuditInsert(rctx, failureEvent(n, op, text, attempt, final, now))
		}
		return nil
	})
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	s.log.Warn("channel notification failed", "channel", n.Channel, "notification_id", n.ID, "request_id", n.RequestID,
		"operation", op, "attempt", attempt, "final", final, "err", text)
	if permanent {
		return river.JobCancel(err)
	}
	return err
}

// update makes notification id's message show its request as it is now.
func (s *Service) update(ctx context.Context, id string, attempt, maxAttempts int) error {
	// The lock orders this read after a concurrent post's commit: either
	// the post sees the change this job is about, or this job sees the
	// post's message.
	var n *Notification
	err := s.store.WithChannelTx(ctx, func(tx Tx) error {
		var err error
		n, err = tx.NotificationLock(ctx, id)
		return err
	})
	if errors.Is(err, approval.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("notification %s does not exist", id))
	}
	if err != nil {
		return err
	}
	nt := s.notifiers[n.Channel]
	if n.Status != StatusSent || nt == nil || !nt.Updatable() {
		return nil // not posted yet (the post renders the current state), failed, or not updatable
	}
	var rendered string
	for range 3 {
		r, err := s.approvals.Get(ctx, n.RequestID)
		if err != nil {
			return err
		}
		if stateKey(r) == rendered {
			return nil
		}
		m, err := s.Message(ctx, r, n)
		if err != nil {
			return err
		}
		if err := nt.Update(ctx, n, m); err != nil {
			if ctx.Err() != nil && !IsPermanent(err) {
				return ctx.Err()
			}
			return s.failed(ctx, n, "update", err, attempt, maxAttempts)
		}
		// Read again: a job that rendered an older state may have
		// updated after us; the last one to update checks last.
		rendered = stateKey(r)
	}
	return nil
}
