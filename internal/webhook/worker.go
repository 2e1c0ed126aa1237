package webhook

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/wire"
)

// QueueName is the River queue of deliveries, apart from the default
// queue so that slow receivers cannot hold up expiry sweeps.
const QueueName = "webhook"

// DeliveryArgs is the River job of one delivery that is already recorded:
// the retries after a failed first attempt, and replays.
type DeliveryArgs struct {
	DeliveryID string `json:"deliveryId"`
	// PriorAttempts counts the attempts made before this job (the batch
	// job's first one); the backoff continues from there. 0 for a replay,
	// which starts the backoff afresh.
	PriorAttempts int `json:"priorAttempts,omitempty"`
}

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return "agentgate.webhook_delivery" }

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	s *Service
}

// NextRetry implements the backoff: RetryBase × 2^attempt plus jitter,
// counting the attempts made before the job.
func (w *deliveryWorker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	return time.Now().Add(w.s.retryDelay(uint64(job.ID), job.Attempt+job.Args.PriorAttempts))
}

// Timeout leaves room after the HTTP timeout to record the attempt (and
// to wait for a free sending slot).
func (w *deliveryWorker) Timeout(*river.Job[DeliveryArgs]) time.Duration {
	return 2*w.s.cfg.Timeout + 30*time.Second
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	return w.s.deliver(ctx, job.Args, job.ID, job.Attempt, job.MaxAttempts)
}

// schedulerInterval is how often River's scheduler makes scheduled jobs
// available (its default). A retry due sooner is inserted available and
// snoozes in the worker until it is due, so that it is not late by up to
// this much.
const schedulerInterval = 5 * time.Second

// retryParams returns the River job that retries delivery d at
// d.NextAttemptAt, after prior attempts; ok is false when no attempt is
// left.
func (s *Service) retryParams(d *Delivery, prior int) (river.InsertManyParams, bool) {
	left := s.cfg.MaxAttempts - prior
	if left <= 0 {
		return river.InsertManyParams{}, false
	}
	opts := &river.InsertOpts{Queue: QueueName, MaxAttempts: left}
	if time.Until(d.NextAttemptAt) > schedulerInterval {
		opts.ScheduledAt = d.NextAttemptAt
	}
	return river.InsertManyParams{Args: DeliveryArgs{DeliveryID: d.ID, PriorAttempts: prior}, InsertOpts: opts}, true
}

// enqueueReplay inserts the job that sends d again, with the full number
// of attempts.
func (s *Service) enqueueReplay(ctx context.Context, tx Tx, d *Delivery) error {
	if s.queue == nil {
		return errors.New("webhook: no job queue configured")
	}
	return s.queue.InsertManyTx(ctx, tx.SQL(), []river.InsertManyParams{{
		Args:       DeliveryArgs{DeliveryID: d.ID},
		InsertOpts: &river.InsertOpts{Queue: QueueName, MaxAttempts: s.cfg.MaxAttempts},
	}})
}

// retryDelay is the wait after attempt (1-based): RetryBase × 2^attempt,
// plus 0–25 % jitter derived from seed and attempt (so the delay recorded
// in the log is the one River applies), capped at MaxRetryDelay. The seed
// is the job id, or for the first retry a hash of the delivery id.
func (s *Service) retryDelay(seed uint64, attempt int) time.Duration {
	d := MaxRetryDelay
	if attempt < 40 {
		if b := s.cfg.RetryBase << attempt; b > 0 && b < MaxRetryDelay {
			d = b
		}
	}
	h := fnv.New64a()
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[:8], seed)
	binary.LittleEndian.PutUint64(buf[8:], uint64(attempt))
	h.Write(buf[:])
	jitter := time.Duration(float64(d) * 0.25 * float64(h.Sum64()>>11) / float64(1<<53))
	return min(d+jitter, MaxRetryDelay)
}

// seedOf is the jitter seed of a delivery's first retry.
func seedOf(deliveryID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(deliveryID))
	return h.Sum64()
}

type outcome int

const (
	outcomeSuccess   outcome = iota
	outcomeRetry             // try again later
	outcomePermanent         // retrying cannot help
)

// outcomeOf classifies an attempt. Permanent: a refused destination and
// 4xx answers other than 408 (timeout), 425 (too early) and 429 (rate
// limited). Everything else that is not 2xx is retried: 5xx, 408, 425,
// 429, 3xx (redirects are not followed) and network errors.
func outcomeOf(r Result) outcome {
	switch {
	case r.Err != nil && errors.Is(r.Err, ErrRefused):
		return outcomePermanent
	case r.Err != nil:
		return outcomeRetry
	case r.StatusCode >= 200 && r.StatusCode < 300:
		return outcomeSuccess
	case r.StatusCode == http.StatusRequestTimeout, r.StatusCode == http.StatusTooEarly, r.StatusCode == http.StatusTooManyRequests:
		return outcomeRetry
	case r.StatusCode >= 400 && r.StatusCode < 500:
		return outcomePermanent
	}
	return outcomeRetry
}

// errorText is the attempt's error as stored and shown: never the URL,
// never the secret.
func errorText(r Result) string {
	switch {
	case r.Err != nil:
		return r.Err.Error()
	case r.StatusCode >= 300 && r.StatusCode < 400:
		return fmt.Sprintf("HTTP %d: redirects are not followed", r.StatusCode)
	case r.StatusCode >= 200 && r.StatusCode < 300:
		return ""
	}
	return fmt.Sprintf("HTTP %d", r.StatusCode)
}

// snoozeMin is the least wait before a delivery's next attempt that makes
// its job snooze rather than send a little early.
const snoozeMin = 5 * time.Millisecond

// deliver runs one attempt of the delivery of a for River job jobID.
func (s *Service) deliver(ctx context.Context, a DeliveryArgs, jobID int64, attempt, maxAttempts int) error {
	d, err := s.store.DeliveryGetByID(ctx, a.DeliveryID)
	if errors.Is(err, approval.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("delivery %s does not exist", a.DeliveryID))
	}
	if err != nil {
		return err
	}
	if d.Status != StatusPending {
		return nil // canceled (webhook disabled or deleted) or already done
	}
	if wait := time.Until(d.NextAttemptAt); wait >= snoozeMin {
		// A first retry that was due within the scheduler's interval was
		// inserted available; it waits here for its time.
		return river.JobSnooze(wait)
	}
	w, err := s.store.WebhookGetByID(ctx, d.WebhookID)
	if err != nil {
		return err
	}
	if reason := inactive(w); reason != "" {
		if err := s.store.WithWebhookTx(ctx, func(tx Tx) error {
			_, err := tx.DeliveryCancelPending(ctx, w.ID, reason)
			return err
		}); err != nil {
			return err
		}
		return river.JobCancel(errors.New(reason))
	}
	n := d.Attempts + 1
	res := s.send(ctx, w, d, n)
	if res.StatusCode == 0 && ctx.Err() != nil {
		// Shutting down (or out of time): River makes the job available
		// again; nothing was answered, so nothing is recorded.
		return ctx.Err()
	}
	oc := outcomeOf(res)
	status, next := StatusPending, time.Time{}
	switch {
	case oc == outcomeSuccess:
		status = StatusSuccess
	case oc == outcomePermanent || attempt >= maxAttempts:
		status = StatusFailed
	default:
		next = time.Now().Add(s.retryDelay(uint64(jobID), attempt+a.PriorAttempts))
	}
	if err := s.record(ctx, d, res, n, status, next); err != nil {
		return err
	}
	switch {
	case oc == outcomeSuccess:
		return nil
	case oc == outcomePermanent:
		s.log.Warn("webhook delivery failed permanently", "webhook_id", w.ID, "delivery_id", d.ID, "attempt", n, "err", errorText(res))
		return river.JobCancel(errors.New(errorText(res)))
	}
	if status == StatusFailed {
		s.log.Warn("webhook delivery failed after its last attempt", "webhook_id", w.ID, "delivery_id", d.ID, "attempt", n, "err", errorText(res))
	}
	return errors.New(errorText(res))
}

// inactive returns why w takes no deliveries ("webhook disabled" or
// "webhook deleted"), or "" when it does.
func inactive(w *Webhook) string {
	switch {
	case !w.DeletedAt.IsZero():
		return "webhook deleted"
	case !w.Enabled:
		return "webhook disabled"
	}
	return ""
}

// payload is the body of a delivery. Timestamp is the time of the attempt,
// so that the signature covers it and receivers can refuse stale bodies.
type payload struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	Timestamp wire.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// send performs one signed POST of d to w, waiting for a sending slot.
func (s *Service) send(ctx context.Context, w *Webhook, d *Delivery, attempt int) Result {
	secret, err := s.cipher.Open(w.Secret, w.ID)
	if err != nil {
		return Result{Err: err}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
	defer func() { <-s.slots }()
	return s.post(ctx, w.URL, secret, d, attempt)
}

// post performs one signed POST of d to url.
func (s *Service) post(ctx context.Context, url, secret string, d *Delivery, attempt int) Result {
	now := time.Now().UTC().Truncate(time.Millisecond)
	body, err := json.Marshal(payload{ID: d.ID, Event: d.Event, Timestamp: wire.Time(now), Data: d.Data})
	if err != nil {
		return Result{Err: fmt.Errorf("encode payload: %w", err)}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.userAgent)
	h.Set(HeaderSignature, Sign(secret, body))
	h.Set(HeaderEvent, d.Event)
	h.Set(HeaderDelivery, d.ID)
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderAttempt, strconv.Itoa(attempt))
	return s.client.Post(ctx, url, h, body)
}

// record writes the attempt and the delivery's new state. It runs even
// when ctx has ended, so an answer that arrived is not lost.
func (s *Service) record(ctx context.Context, d *Delivery, res Result, n int, status string, next time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.store.WithWebhookTx(ctx, func(tx Tx) error {
		return tx.DeliveryRecord(ctx, DeliveryResult{
			Attempt: &Attempt{DeliveryID: d.ID, Attempt: n, StatusCode: res.StatusCode, Error: errorText(res),
				ResponseBody: res.Body, Duration: res.Duration, CreatedAt: tx.Now()},
			Status:        status,
			NextAttemptAt: next,
		})
	})
}
