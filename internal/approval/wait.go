package approval

import (
	"context"
	"time"
)

// Wait returns request id as soon as it is no longer pending, or its
// current, still pending state when ctx ends (the caller's timeout). It
// starts watching before it reads, so a change that lands between the read
// and the wait still wakes it.
//
// Errors: CodeNotFound.
func (s *Service) Wait(ctx context.Context, id string) (*Request, error) {
	// Reads outlive ctx by a moment: when the timeout fires the caller
	// still gets the current state, not an error.
	read := func() (*Request, error) {
		return onFreshStack(func() (*Request, error) {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return s.Get(rctx, id)
		})
	}
	if s.watcher == nil {
		return read()
	}
	wake, stop := s.watcher.WatchRequest(id)
	defer stop()
	for {
		r, err := read()
		if err != nil || r.Status != StatusPending {
			return r, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return read()
		}
	}
}

// onFreshStack runs fn on a short-lived goroutine and waits for it. A
// SQLite read (modernc, C translated to Go) grows a goroutine's stack to
// tens of kilobytes, and a goroutine keeps its grown stack until a garbage
// collection shrinks it: a long-poll that read on its own goroutine would
// hold that stack for the whole wait. Only the reads of a goroutine that
// then waits belong here: growing a fresh stack each time makes a read
// cost ~60 % more.
func onFreshStack[T any](fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

// EventTypeOf maps a request audit event type to the event published for
// it, or "" for audit events that are not request state changes.
func EventTypeOf(auditType string) string {
	switch auditType {
	case EventCreated:
		return EventRequestCreated
	case EventApproved, EventDenied:
		return EventRequestDecided
	case EventExpired:
		return EventRequestExpired
	}
	return ""
}

// ReplayLookback is how far before the last seen event a replay starts on
// PostgreSQL, where ids are assigned at insert and transactions can commit
// out of id order: a replay may repeat events, never miss one.
const ReplayLookback = 5 * time.Second

// EventsSince returns the request events recorded after audit event
// afterID, oldest first, at most limit, each with the request's current
// state. It serves streams that reconnect with Last-Event-ID.
func (s *Service) EventsSince(ctx context.Context, afterID int64, limit int) ([]Event, error) {
	audit, err := s.store.AuditListSince(ctx, afterID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(audit))
	cache := map[string]*Request{}
	for _, a := range audit {
		typ := EventTypeOf(a.EventType)
		if typ == "" || a.RequestID == "" {
			continue
		}
		r, ok := cache[a.RequestID]
		if !ok {
			if r, err = s.store.RequestGetByID(ctx, a.RequestID); err != nil {
				continue // a request removed by retention: nothing to show
			}
			cache[a.RequestID] = r
		}
		out = append(out, Event{ID: a.ID, Type: typ, Request: r, Actor: Actor{ID: a.ActorID, Name: a.Actor, Type: a.ActorType}})
	}
	return out, nil
}
