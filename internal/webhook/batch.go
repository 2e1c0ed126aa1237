package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/wire"
)

// BatchArgs is the River job that makes the first attempt of every
// delivery of one webhook for a range of sealed audit events. OnSealed
// enqueues at most one per webhook per sealing transaction.
type BatchArgs struct {
	WebhookID string `json:"webhookId"`
	FromSeq   int64  `json:"fromSeq"`
	ToSeq     int64  `json:"toSeq"`
	// Events is the webhook's subscription when the range was sealed; it
	// decides which of the range's events are delivered, so a later edit
	// of the subscription applies to later events only.
	Events []string `json:"events"`
}

// Kind implements river.JobArgs.
func (BatchArgs) Kind() string { return "agentgate.webhook_batch" }

// batchMaxAttempts bounds River's retries of a batch job. A batch job fails
// only when the database does (a failed POST is recorded, not returned), so
// it gets River's usual long schedule: 25 attempts span about three weeks.
const batchMaxAttempts = 25

type batchWorker struct {
	river.WorkerDefaults[BatchArgs]
	s *Service
}

// Timeout allows a round of Concurrency POSTs per HTTP timeout for the
// most deliveries the range can hold (two per event), and a minute to read
// and record.
func (w *batchWorker) Timeout(job *river.Job[BatchArgs]) time.Duration {
	n := 2 * max(job.Args.ToSeq-job.Args.FromSeq+1, 1)
	c := int64(w.s.cfg.Concurrency)
	return time.Duration((n+c-1)/c+1)*w.s.cfg.Timeout + time.Minute
}

func (w *batchWorker) Work(ctx context.Context, job *river.Job[BatchArgs]) error {
	return w.s.deliverBatch(ctx, job.Args)
}

// DeliveryID is the id of the delivery of audit event auditEventID as
// event to webhook webhookID: "dlv_" and a UUID (version 8, RFC 9562) made
// of the SHA-256 of the three. Being derived rather than drawn, it is the
// same when a batch job runs again after a crash, so the job can tell what
// it has already recorded and a receiver sees the same id for the same
// delivery.
func DeliveryID(webhookID string, auditEventID int64, event string) string {
	h := sha256.New()
	h.Write([]byte("agentgate webhook delivery\x00"))
	h.Write([]byte(webhookID))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, auditEventID, 10))
	h.Write([]byte{0})
	h.Write([]byte(event))
	var u uuid.UUID
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // the RFC 9562 variant
	return "dlv_" + u.String()
}

// deliverBatch sends the deliveries of a's range that are not recorded yet
// and records every outcome in one transaction, with a retry job for each
// retryable failure. Run again (River retries a job whose process died),
// it skips the deliveries already recorded and sends the others with the
// same ids.
func (s *Service) deliverBatch(ctx context.Context, a BatchArgs) error {
	w, err := s.store.WebhookGetByID(ctx, a.WebhookID)
	if errors.Is(err, approval.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("webhook %s does not exist", a.WebhookID))
	}
	if err != nil {
		return err
	}
	evs, err := s.store.AuditListSealedRange(ctx, a.FromSeq, a.ToSeq)
	if err != nil {
		return err
	}
	ds, byDelivery := s.plan(w.ID, a.Events, evs)
	if len(ds) == 0 {
		return nil
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	recorded, err := s.store.DeliveryExisting(ctx, ids)
	if err != nil {
		return err
	}
	if len(recorded) > 0 {
		skip := make(map[string]bool, len(recorded))
		for _, id := range recorded {
			skip[id] = true
		}
		ds = slices.DeleteFunc(ds, func(d *Delivery) bool { return skip[d.ID] })
		if len(ds) == 0 {
			return nil
		}
	}
	if ds, err = s.payloads(ctx, ds, byDelivery); err != nil || len(ds) == 0 {
		return err
	}
	started := time.Now().UTC()
	for _, d := range ds {
		d.CreatedAt = started
	}
	if reason := inactive(w); reason != "" {
		// Disabled or deleted since the seal: the deliveries are recorded
		// canceled, with their data, so that they can be replayed once the
		// webhook is enabled again.
		for _, d := range ds {
			d.Status, d.LastError = StatusCanceled, reason
		}
		return s.recordBatch(ctx, w.ID, ds, nil)
	}
	var results []Result
	if secret, err := s.cipher.Open(w.Secret, w.ID); err != nil {
		results = make([]Result, len(ds))
		for i := range results {
			results[i] = Result{Err: err}
		}
	} else {
		results = s.sendAll(ctx, w.URL, secret, ds)
	}
	var (
		done        []*Delivery
		attempts    []*Attempt
		interrupted bool
	)
	for i, d := range ds {
		res := results[i]
		if res.StatusCode == 0 && ctx.Err() != nil {
			// Not answered before shutdown (or the job's time ran out):
			// not recorded, so the job's next run sends it.
			interrupted = true
			continue
		}
		d.Attempts, d.LastStatusCode, d.LastError = 1, res.StatusCode, errorText(res)
		switch oc := outcomeOf(res); {
		case oc == outcomeSuccess:
			d.Status = StatusSuccess
		case oc == outcomePermanent:
			d.Status = StatusFailed
			s.log.Warn("webhook delivery failed permanently", "webhook_id", w.ID, "delivery_id", d.ID, "attempt", 1, "err", d.LastError)
		case s.cfg.MaxAttempts <= 1:
			d.Status = StatusFailed
			s.log.Warn("webhook delivery failed after its last attempt", "webhook_id", w.ID, "delivery_id", d.ID, "attempt", 1, "err", d.LastError)
		default:
			d.Status, d.NextAttemptAt = StatusPending, time.Now().Add(s.retryDelay(seedOf(d.ID), 1))
		}
		done = append(done, d)
		attempts = append(attempts, &Attempt{DeliveryID: d.ID, Attempt: 1, StatusCode: res.StatusCode, Error: d.LastError,
			ResponseBody: res.Body, Duration: res.Duration})
	}
	if err := s.recordBatch(ctx, w.ID, done, attempts); err != nil {
		return err
	}
	if interrupted {
		return fmt.Errorf("webhook: batch of %s interrupted: %w", w.ID, context.Cause(ctx))
	}
	return nil
}

// plan returns the deliveries of evs that a subscription to events gets,
// in seq order, and the audit event of each.
func (s *Service) plan(webhookID string, events []string, evs []*approval.AuditEvent) ([]*Delivery, map[string]*approval.AuditEvent) {
	sub := Webhook{Events: events}
	var ds []*Delivery
	byDelivery := map[string]*approval.AuditEvent{}
	for _, e := range evs {
		if e.RequestID == "" {
			continue
		}
		for _, name := range eventNames(e.EventType) {
			if !sub.Wants(name) {
				continue
			}
			d := &Delivery{ID: DeliveryID(webhookID, e.ID, name), WebhookID: webhookID, Event: name, RequestID: e.RequestID}
			ds = append(ds, d)
			byDelivery[d.ID] = e
		}
	}
	return ds, byDelivery
}

// payloads sets each delivery's data: its request (read in one query) as
// it was at its event. A delivery whose request is missing is dropped and
// logged; that cannot happen while requests are never deleted.
func (s *Service) payloads(ctx context.Context, ds []*Delivery, byDelivery map[string]*approval.AuditEvent) ([]*Delivery, error) {
	var ids []string
	seen := map[string]bool{}
	for _, d := range ds {
		if !seen[d.RequestID] {
			seen[d.RequestID] = true
			ids = append(ids, d.RequestID)
		}
	}
	rs, err := s.store.RequestListByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	requests := make(map[string]*approval.Request, len(rs))
	for _, r := range rs {
		requests[r.ID] = r
	}
	data := map[int64]json.RawMessage{} // by audit event: a decision's two deliveries share it
	out := ds[:0]
	for _, d := range ds {
		e := byDelivery[d.ID]
		r, ok := requests[d.RequestID]
		if !ok {
			s.log.Error("webhook delivery skipped: its request does not exist", "delivery_id", d.ID, "request_id", d.RequestID)
			continue
		}
		if d.Data = data[e.ID]; d.Data == nil {
			d.Data, err = json.Marshal(map[string]any{"request": wire.ToRequest(snapshot(r, e), e.CreatedAt)})
			if err != nil {
				return nil, fmt.Errorf("webhook: encode payload: %w", err)
			}
			data[e.ID] = d.Data
		}
		out = append(out, d)
	}
	return out, nil
}

// sendAll POSTs the first attempt of every delivery in ds to url, as many
// at once as the sending slots allow, and returns the results in ds's
// order.
func (s *Service) sendAll(ctx context.Context, url, secret string, ds []*Delivery) []Result {
	results := make([]Result, len(ds))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(len(ds), cap(s.slots)) {
		wg.Go(func() {
			for i := range next {
				select {
				case s.slots <- struct{}{}:
				case <-ctx.Done():
					results[i] = Result{Err: ctx.Err()}
					continue
				}
				results[i] = s.post(ctx, url, secret, ds[i], 1)
				<-s.slots
			}
		})
	}
	for i := range ds {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// recordBatch writes the deliveries ds of webhook webhookID with their
// attempts, and a retry job for each one left pending, in one
// transaction. A delivery already stored (a concurrent run of the same
// batch) is left alone, with its attempt and retry. It runs even when ctx
// has ended, so answers that arrived are not lost.
func (s *Service) recordBatch(ctx context.Context, webhookID string, ds []*Delivery, attempts []*Attempt) error {
	if len(ds) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return s.store.WithWebhookTx(ctx, func(tx Tx) error {
		// Disabled or deleted while these were sent: what would now be
		// pending is canceled, as DeliveryCancelPending does.
		w, err := tx.WebhookGetByID(ctx, webhookID)
		if err != nil {
			return err
		}
		reason := inactive(w)
		now := tx.Now()
		for _, d := range ds {
			if d.Status == StatusPending && reason != "" {
				d.Status, d.LastError, d.NextAttemptAt = StatusCanceled, reason, time.Time{}
			}
			d.UpdatedAt, d.CompletedAt = now, time.Time{}
			if d.Status != StatusPending {
				d.CompletedAt = now
			}
		}
		ids, err := tx.DeliveryInsert(ctx, ds)
		if err != nil {
			return err
		}
		inserted := make(map[string]bool, len(ids))
		for _, id := range ids {
			inserted[id] = true
		}
		as := attempts[:0:0]
		for _, a := range attempts {
			if inserted[a.DeliveryID] {
				a.CreatedAt = now
				as = append(as, a)
			}
		}
		if err := tx.AttemptInsert(ctx, as); err != nil {
			return err
		}
		var retries []river.InsertManyParams
		for _, d := range ds {
			if inserted[d.ID] && d.Status == StatusPending {
				if p, ok := s.retryParams(d, d.Attempts); ok {
					retries = append(retries, p)
				}
			}
		}
		if len(retries) == 0 {
			return nil
		}
		if s.queue == nil {
			return errors.New("webhook: no job queue configured")
		}
		return s.queue.InsertManyTx(ctx, tx.SQL(), retries)
	})
}
