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

// DeliveryArgs is the River job of one delivery.
type DeliveryArgs struct {
	DeliveryID string `json:"deliveryId"`
}

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return "agentgate.webhook_delivery" }

// Worker returns the River worker that sends deliveries; register it with
// river.AddWorker.
func (s *Service) Worker() river.Worker[DeliveryArgs] { return &deliveryWorker{s: s} }

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	s *Service
}

// NextRetry implements the backoff: RetryBase × 2^attempt plus jitter.
func (w *deliveryWorker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	return time.Now().Add(w.s.retryDelay(job.ID, job.Attempt))
}

// Timeout leaves room after the HTTP timeout to record the attempt.
func (w *deliveryWorker) Timeout(*river.Job[DeliveryArgs]) time.Duration {
	return w.s.cfg.Timeout + 30*time.Second
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	return w.s.deliver(ctx, job.Args.DeliveryID, job.ID, job.Attempt, job.MaxAttempts)
}

// retryDelay is the wait after attempt (1-based) of job: RetryBase ×
// 2^attempt, plus 0–25 % jitter derived from the job id and attempt (so
// the delay recorded in the log is the one River applies), capped at
// MaxRetryDelay.
func (s *Service) retryDelay(jobID int64, attempt int) time.Duration {
	d := MaxRetryDelay
	if attempt < 40 {
		if b := s.cfg.RetryBase << attempt; b > 0 && b < MaxRetryDelay {
			d = b
		}
	}
	h := fnv.New64a()
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[:8], uint64(jobID))
	binary.LittleEndian.PutUint64(buf[8:], uint64(attempt))
	h.Write(buf[:])
	jitter := time.Duration(float64(d) * 0.25 * float64(h.Sum64()>>11) / float64(1<<53))
	return min(d+jitter, MaxRetryDelay)
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

// deliver runs one attempt of delivery id for River job jobID.
func (s *Service) deliver(ctx context.Context, id string, jobID int64, attempt, maxAttempts int) error {
	d, err := s.store.DeliveryGetByID(ctx, id)
	if errors.Is(err, approval.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("delivery %s does not exist", id))
	}
	if err != nil {
		return err
	}
	if d.Status != StatusPending {
		return nil // canceled (webhook disabled or deleted) or already done
	}
	w, err := s.store.WebhookGetByID(ctx, d.WebhookID)
	if err != nil {
		return err
	}
	if !w.DeletedAt.IsZero() || !w.Enabled {
		reason := "webhook disabled"
		if !w.DeletedAt.IsZero() {
			reason = "webhook deleted"
		}
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
		next = time.Now().Add(s.retryDelay(jobID, attempt))
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

// payload is the body of a delivery. Timestamp is the time of the attempt,
// so that the signature covers it and receivers can refuse stale bodies.
type payload struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	Timestamp wire.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// send performs one signed POST of d to w.
func (s *Service) send(ctx context.Context, w *Webhook, d *Delivery, attempt int) Result {
	secret, err := s.cipher.Open(w.Secret, w.ID)
	if err != nil {
		return Result{Err: err}
	}
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
	return s.client.Post(ctx, w.URL, h, body)
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
