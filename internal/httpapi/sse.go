package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/events"
	"github.com/agentgate/agentgate/internal/wire"
)

// EventStream is one Server-Sent Events response carrying request events
// from the hub: GET /api/events and the dashboard's live updates share it.
// A client that reconnects with Last-Event-ID first receives what it
// missed; ids are audit event ids.
type EventStream struct {
	Approvals *approval.Service
	Hub       *events.Hub
	// Match selects the events to send; nil sends every event.
	Match func(typ string, req *approval.Request) bool
	// LastEventID replays the events after it before going live (0: none).
	LastEventID int64
	// Heartbeat is the interval of comment lines that keep proxies from
	// closing an idle stream. Defaults to 15s.
	Heartbeat time.Duration
	// Data returns the data of one event; nil sends StreamEvent.
	Data func(ctx context.Context, id int64, typ string, req *approval.Request) (any, error)
	// Hello, when set, returns an event written right after the stream
	// opens (the dashboard's pending count).
	Hello func(ctx context.Context) (event string, data any, err error)
	// Check runs at every heartbeat; an error ends the stream (the
	// dashboard's session ended).
	Check func(ctx context.Context) error
}

// Serve writes the stream until the client leaves, the server shuts down,
// Check fails or the subscriber falls behind (the client then reconnects
// and replays). Errors after the headers are out end the stream quietly.
func (es EventStream) Serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sub := es.Hub.SubscribeAll(1024)
	defer sub.Close()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	write := func(chunk string) error {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprint(w, chunk); err != nil {
			return err
		}
		return rc.Flush()
	}
	data := es.Data
	if data == nil {
		data = func(_ context.Context, id int64, typ string, req *approval.Request) (any, error) {
			return StreamEvent{ID: strconv.FormatInt(id, 10), Type: typ, Request: wire.ToRequest(req, time.Now())}, nil
		}
	}
	sent := map[int64]bool{} // replayed ids, so live copies are not sent twice
	emit := func(id int64, typ string, req *approval.Request) error {
		if es.Match != nil && !es.Match(typ, req) {
			return nil
		}
		v, err := data(ctx, id, typ, req)
		if err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return write(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", id, typ, b))
	}
	if err := write("retry: 3000\n: connected\n\n"); err != nil {
		return
	}
	if es.Hello != nil {
		typ, v, err := es.Hello(ctx)
		if err != nil {
			return
		}
		b, err := json.Marshal(v)
		if err != nil || write(fmt.Sprintf("event: %s\ndata: %s\n\n", typ, b)) != nil {
			return
		}
	}
	if es.LastEventID > 0 {
		missed, err := es.Approvals.EventsSince(ctx, es.LastEventID, 10_000)
		if err != nil {
			return // headers are out; the client reconnects and retries
		}
		for _, e := range missed {
			sent[e.ID] = true
			if err := emit(e.ID, e.Type, e.Request); err != nil {
				return
			}
		}
	}
	hb := es.Heartbeat
	if hb <= 0 {
		hb = 15 * time.Second
	}
	heartbeat := time.NewTicker(hb)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			if es.Check != nil && es.Check(ctx) != nil {
				return
			}
			if err := write(": heartbeat\n\n"); err != nil {
				return
			}
		case m := <-sub.C:
			if m.Type == events.TypeResync || sub.Overflowed() {
				// Events may be lost: end the stream, the client
				// reconnects with Last-Event-ID and replays them.
				return
			}
			if sent[m.ID] {
				continue
			}
			req := m.Request
			if req == nil {
				var err error
				if req, err = es.Approvals.Get(ctx, m.RequestID); err != nil {
					continue
				}
			}
			if err := emit(m.ID, m.Type, req); err != nil {
				return
			}
		}
	}
}
