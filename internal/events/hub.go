// Package events fans state changes out to subscribers: long-poll waiters,
// SSE streams and the dashboard. The Hub delivers within one process; the
// PostgreSQL bus carries events between processes with LISTEN/NOTIFY.
package events

import (
	"sync"
	"sync/atomic"

	"github.com/agentgate/agentgate/internal/approval"
)

// Message types. Resync tells subscribers that messages may have been lost
// (a dropped LISTEN connection) and that they should re-read state.
const (
	TypeResync = "resync"
)

// Message is one event as subscribers see it.
type Message struct {
	ID        int64  // the audit event id; SSE event id
	Type      string // approval.EventRequest* or TypeResync
	RequestID string
	Status    approval.Status
	// Request is the request after the change; nil when the event came
	// from another process (subscribers read it from the store).
	Request *approval.Request
}

// Subscription receives every message on C until Close.
type Subscription struct {
	C         chan Message
	hub       *Hub
	overflow  atomic.Bool
	closeOnce sync.Once
}

// watch wakes one waiter: through its channel (a full channel already
// holds a wake-up) or by calling fn, which must not block.
type watch struct {
	wake chan struct{}
	fn   func()
}

// Overflowed reports whether a message could not be delivered because the
// subscriber was too slow; a stream should then end so its client
// reconnects and replays from its last event id.
func (s *Subscription) Overflowed() bool { return s.overflow.Load() }

// Close stops delivery. It is safe to call more than once.
func (s *Subscription) Close() {
	s.closeOnce.Do(func() {
		s.hub.mu.Lock()
		delete(s.hub.all, s)
		s.hub.mu.Unlock()
	})
}

// Hub is the in-process fan-out. It is safe for concurrent use.
type Hub struct {
	mu        sync.RWMutex
	byRequest map[string]map[*watch]struct{}
	all       map[*Subscription]struct{}
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	return &Hub{byRequest: map[string]map[*watch]struct{}{}, all: map[*Subscription]struct{}{}}
}

// WatchRequest implements approval.Watcher: wake receives a value after
// request id changes (or after a resync); stop ends the watch.
func (h *Hub) WatchRequest(id string) (wake <-chan struct{}, stop func()) {
	w := &watch{wake: make(chan struct{}, 1)}
	return w.wake, h.addWatch(id, w)
}

// WatchRequestFunc calls fn after request id changes (or after a resync)
// until stop is called. fn runs on the delivering goroutine, under the
// hub's lock: it must return at once (start a goroutine for real work).
// It serves waiters that hold no goroutine of their own while they wait.
func (h *Hub) WatchRequestFunc(id string, fn func()) (stop func()) {
	return h.addWatch(id, &watch{fn: fn})
}

func (h *Hub) addWatch(id string, w *watch) (stop func()) {
	h.mu.Lock()
	set := h.byRequest[id]
	if set == nil {
		set = map[*watch]struct{}{}
		h.byRequest[id] = set
	}
	set[w] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if set := h.byRequest[id]; set != nil {
				delete(set, w)
				if len(set) == 0 {
					delete(h.byRequest, id)
				}
			}
		})
	}
}

// SubscribeAll subscribes to every event with a buffer of n messages.
func (h *Hub) SubscribeAll(n int) *Subscription {
	s := &Subscription{C: make(chan Message, n), hub: h}
	h.mu.Lock()
	h.all[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Subscribers returns the number of live subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := len(h.all)
	for _, set := range h.byRequest {
		n += len(set)
	}
	return n
}

// Deliver hands msgs to their subscribers without blocking: a slow
// subscriber is marked overflowed instead of slowing everyone down.
func (h *Hub) Deliver(msgs ...Message) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, m := range msgs {
		if m.Type == TypeResync {
			for _, set := range h.byRequest {
				for w := range set {
					w.notify()
				}
			}
		} else {
			for w := range h.byRequest[m.RequestID] {
				w.notify()
			}
		}
		for s := range h.all {
			select {
			case s.C <- m:
			default:
				s.overflow.Store(true)
			}
		}
	}
}

func (w *watch) notify() {
	if w.fn != nil {
		w.fn()
		return
	}
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// FromEvents converts domain events to messages.
func FromEvents(evs []approval.Event) []Message {
	out := make([]Message, len(evs))
	for i, e := range evs {
		out[i] = Message{ID: e.ID, Type: e.Type, RequestID: e.Request.ID, Status: e.Request.Status, Request: e.Request}
	}
	return out
}
