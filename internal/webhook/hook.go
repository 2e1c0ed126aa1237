package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/wire"
)

var _ approval.TxHook = (*Service)(nil)

// eventNames maps a domain event to the webhook events it raises: a
// decision is both request.decided and request.approved or
// request.denied.
func eventNames(e approval.Event) []string {
	switch e.Type {
	case approval.EventRequestCreated:
		return []string{EventRequestCreated}
	case approval.EventRequestDecided:
		switch e.Request.Status {
		case approval.StatusApproved:
			return []string{EventRequestDecided, EventRequestApproved}
		case approval.StatusDenied:
			return []string{EventRequestDecided, EventRequestDenied}
		}
		return []string{EventRequestDecided}
	case approval.EventRequestExpired:
		return []string{EventRequestExpired}
	}
	if ValidEvent(e.Type) && e.Type != EventAll {
		// Events added to the domain later (request.escalated) pass
		// through under their own name.
		return []string{e.Type}
	}
	return nil
}

// OnEvents implements approval.TxHook: inside the transaction of a
// request change it writes a pending delivery for every enabled webhook
// that wants each event, and one River job per delivery. With no
// subscriber the cost is one read of the generation counter.
func (s *Service) OnEvents(ctx context.Context, atx approval.Tx, events []approval.Event) error {
	tx, ok := atx.(Tx)
	if !ok {
		return errors.New("webhook: the store's transaction does not support webhooks")
	}
	subs, err := s.subscriptions(ctx, tx)
	if err != nil || len(subs) == 0 {
		return err
	}
	now := tx.Now()
	var ds []*Delivery
	for _, e := range events {
		if e.Request == nil {
			continue
		}
		var data json.RawMessage
		for _, name := range eventNames(e) {
			for _, w := range subs {
				if !w.Wants(name) {
					continue
				}
				if data == nil {
					data, err = json.Marshal(map[string]any{"request": wire.ToRequest(e.Request, now)})
					if err != nil {
						return fmt.Errorf("webhook: encode payload: %w", err)
					}
				}
				ds = append(ds, &Delivery{ID: approval.NewID("dlv_"), WebhookID: w.ID, Event: name, RequestID: e.Request.ID,
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

// enqueue inserts one delivery job per delivery in tx.
func (s *Service) enqueue(ctx context.Context, tx Tx, ds []*Delivery) error {
	if s.queue == nil {
		// Refuse the change rather than lose its deliveries.
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
