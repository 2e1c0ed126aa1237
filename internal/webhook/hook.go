package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/wire"
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
// inside the sealing transaction. For each event this writes a pending
// delivery per enabled webhook that wants it, and one River job per
// delivery, in that same transaction. So a change that commits is
// delivered, a change that rolls back never is, a crash in between only
// delays the fan-out to the next seal, and creating a request costs no
// webhook work at all.
func (s *Service) OnSealed(ctx context.Context, atx approval.Tx, events []*approval.AuditEvent) error {
	tx, ok := atx.(Tx)
	if !ok {
		return errors.New("webhook: the store's transaction does not support webhooks")
	}
	subs, err := s.subscriptions(ctx, tx)
	if err != nil || len(subs) == 0 {
		return err
	}
	now := tx.Now()
	requests := map[string]*approval.Request{}
	var ds []*Delivery
	for _, e := range events {
		names := eventNames(e.EventType)
		if e.RequestID == "" || len(names) == 0 {
			continue
		}
		var data json.RawMessage
		for _, name := range names {
			for _, w := range subs {
				if !w.Wants(name) {
					continue
				}
				if data == nil {
					r, ok := requests[e.RequestID]
					if !ok {
						if r, err = atx.RequestGetByID(ctx, e.RequestID); err != nil {
							return fmt.Errorf("webhook: load request %s: %w", e.RequestID, err)
						}
						requests[e.RequestID] = r
					}
					data, err = json.Marshal(map[string]any{"request": wire.ToRequest(snapshot(r, e), e.CreatedAt)})
					if err != nil {
						return fmt.Errorf("webhook: encode payload: %w", err)
					}
				}
				ds = append(ds, &Delivery{ID: approval.NewID("dlv_"), WebhookID: w.ID, Event: name, RequestID: e.RequestID,
					Data: data, Status: StatusPending, CreatedAt: now, UpdatedAt: now})
			}
		}
	}
	if len(ds) == 0 {
		return nil
	}
	if err := tx.DeliveryInsert(ctx, ds); err != nil {
		return err
	}
	return s.enqueue(ctx, tx, ds)
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

// enqueue inserts one delivery job per delivery in tx.
func (s *Service) enqueue(ctx context.Context, tx Tx, ds []*Delivery) error {
	if s.queue == nil {
		// Refuse to seal rather than lose the deliveries.
		return errors.New("webhook: no job queue configured")
	}
	params := make([]river.InsertManyParams, len(ds))
	for i, d := range ds {
		params[i] = river.InsertManyParams{Args: DeliveryArgs{DeliveryID: d.ID}, InsertOpts: s.insertOpts()}
	}
	return s.queue.InsertManyTx(ctx, tx.SQL(), params)
}

func (s *Service) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: s.cfg.MaxAttempts, Queue: QueueName}
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
