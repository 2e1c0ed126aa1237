package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
)

var _ approval.SealHook = (*Service)(nil)

// eventNames maps an audit event of a request to the webhook events it
// raises: a decision is both request.decided and request.approved or
// request.denied.
func eventNames(auditType string) []string {
	switch auditType {
	case approval.EventCreated:
		return []string{EventRequestCreated}
	case approval.EventApproved:
		return []string{EventRequestDecided, EventRequestApproved}
	case approval.EventDenied:
		return []string{EventRequestDecided, EventRequestDenied}
	case approval.EventExpired:
		return []string{EventRequestExpired}
	case approval.EventEscalated:
		return []string{EventRequestEscalated}
	}
	return nil
}

// OnSealed implements approval.SealHook. The audit trail is the outbox:
// every change writes its audit events in its own transaction, and the
// sealer hands each committed event here exactly once, in commit order,
// inside the sealing transaction. For each enabled webhook that wants at
// least one of the events this enqueues one batch job covering the range
// of sequence numbers from the first to the last event it wants, in that
// same transaction; the job writes the deliveries as it makes them. So a
// change that commits is delivered, a change that rolls back never is, a
// crash in between only delays the fan-out to the next seal, creating a
// request costs no webhook work, and sealing costs one job per webhook
// whatever the number of events.
func (s *Service) OnSealed(ctx context.Context, atx approval.Tx, events []*approval.AuditEvent) error {
	tx, ok := atx.(Tx)
	if !ok {
		return errors.New("webhook: the store's transaction does not support webhooks")
	}
	subs, err := s.subscriptions(ctx, tx)
	if err != nil || len(subs) == 0 {
		return err
	}
	var params []river.InsertManyParams
	for _, w := range subs {
		var from, to int64
		found := false
		for _, e := range events {
			if e.RequestID == "" || !slices.ContainsFunc(eventNames(e.EventType), w.Wants) {
				continue
			}
			if !found {
				from, found = e.Seq, true
			}
			to = e.Seq
		}
		if found {
			params = append(params, river.InsertManyParams{
				Args:       BatchArgs{WebhookID: w.ID, FromSeq: from, ToSeq: to, Events: w.Events},
				InsertOpts: &river.InsertOpts{Queue: QueueName, MaxAttempts: batchMaxAttempts},
			})
		}
	}
	if len(params) == 0 {
		return nil
	}
	if s.queue == nil {
		// Refuse to seal rather than lose the deliveries.
		return errors.New("webhook: no job queue configured")
	}
	return s.queue.InsertManyTx(ctx, tx.SQL(), params)
}

// snapshot returns r as it was when e happened. A request changes once
// (pending to decided) besides its escalation level, so the state at a
// creation or an escalation is the current one with a later decision
// taken off.
func snapshot(r *approval.Request, e *approval.AuditEvent) *approval.Request {
	if e.EventType != approval.EventCreated && e.EventType != approval.EventEscalated {
		return r
	}
	c := *r
	if c.Status != approval.StatusPending && c.DecidedAt.After(e.CreatedAt) {
		c.Status = approval.StatusPending
		c.DecidedAt, c.DecidedBy, c.DecidedByID, c.DecidedByType = time.Time{}, "", "", ""
		c.DecidedByLabel, c.DecisionReason, c.ApprovedParams = "", "", nil
		c.UpdatedAt = e.CreatedAt
	}
	if e.EventType == approval.EventCreated && c.Status == approval.StatusPending {
		c.EscalationLevel, c.ApprovalVotes = 0, 0
	}
	if e.EventType == approval.EventEscalated {
		var d struct {
			Step int `json:"step"`
		}
		if json.Unmarshal(e.Details, &d) == nil && d.Step > 0 {
			c.EscalationLevel = d.Step
		}
	}
	return &c
}

// subscriptions returns the enabled webhooks, from the cache while the
// generation counter (read in tx, so it is consistent with what tx sees)
// has not moved.
func (s *Service) subscriptions(ctx context.Context, tx Tx) ([]*Webhook, error) {
	gen, err := tx.WebhookGeneration(ctx)
	if err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	if s.cacheOK && s.cacheGen == gen {
		subs := s.cached
		s.cacheMu.Unlock()
		return subs, nil
	}
	s.cacheMu.Unlock()
	subs, err := tx.WebhookListEnabled(ctx)
	if err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	if !s.cacheOK || gen >= s.cacheGen {
		s.cacheGen, s.cached, s.cacheOK = gen, subs, true
	}
	s.cacheMu.Unlock()
	return subs, nil
}
