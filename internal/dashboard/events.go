package dashboard

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/httpapi"
)

// liveEvent is the data of one event on /ui/events.
type liveEvent struct {
	Type    string       `json:"type"`
	Request *requestView `json:"request"`
	Pending int64        `json:"pending"`
}

// events serves GET /ui/events: the live stream of the dashboard's pages.
// It is the API's event stream (hub, Last-Event-ID replay) with the
// queue's card view and the pending count in each event. The session is
// re-checked at every heartbeat, so a revoked key's stream ends too.
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request, v *view) error {
	if d.hub == nil {
		return approval.Errorf(approval.CodeUnavailable, "live updates are not available")
	}
	var lastID int64
	if s := r.Header.Get("Last-Event-ID"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return approval.Errorf(approval.CodeInvalid, "Last-Event-ID must be an event id from this stream")
		}
		lastID = n
	}
	httpapi.MarkStreaming(r.Context())
	token := v.token
	httpapi.EventStream{
		Approvals:   d.approvals,
		Hub:         d.hub,
		LastEventID: lastID,
		Heartbeat:   d.cfg.Heartbeat,
		Data: func(ctx context.Context, id int64, typ string, req *approval.Request) (any, error) {
			n, err := d.pending.get(ctx, time.Now())
			if err != nil {
				return nil, err
			}
			return liveEvent{Type: typ, Request: newRequestView(req, nil, d.now()), Pending: n}, nil
		},
		Hello: func(ctx context.Context) (string, any, error) {
			n, err := d.pending.get(ctx, time.Now())
			return "hello", map[string]int64{"pending": n}, err
		},
		Check: func(ctx context.Context) error {
			_, _, err := d.sessions.Resolve(ctx, token)
			return err
		},
	}.Serve(w, r)
	return nil
}

// pendingCounter shares counts of pending requests between the live
// streams of this process. A stream that received an event asks for a
// count read after that moment (the event was committed before it was
// published, so such a read includes it); streams that received the same
// event at about the same time share one read. It caches one read, never
// a source of truth, so replicas need not share it.
type pendingCounter struct {
	read func(ctx context.Context) (int64, error)

	mu       sync.Mutex
	value    int64
	start    time.Time    // when the read behind value started
	inflight *pendingRead // the read in progress, if any
}

type pendingRead struct {
	start time.Time
	done  chan struct{}
	value int64
	err   error
}

func newPendingCounter(read func(ctx context.Context) (int64, error)) *pendingCounter {
	return &pendingCounter{read: read}
}

// get returns a count read that started at or after since.
func (c *pendingCounter) get(ctx context.Context, since time.Time) (int64, error) {
	for {
		c.mu.Lock()
		if !c.start.IsZero() && !c.start.Before(since) {
			v := c.value
			c.mu.Unlock()
			return v, nil
		}
		if f := c.inflight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			if f.err == nil && !f.start.Before(since) {
				return f.value, nil
			}
			if f.err != nil && !f.start.Before(since) {
				return 0, f.err
			}
			continue
		}
		f := &pendingRead{start: time.Now(), done: make(chan struct{})}
		c.inflight = f
		c.mu.Unlock()

		// The read serves other streams too: it must not end with this
		// stream's client.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		f.value, f.err = c.read(rctx)
		cancel()
		c.mu.Lock()
		c.inflight = nil
		if f.err == nil && f.start.After(c.start) {
			c.value, c.start = f.value, f.start
		}
		c.mu.Unlock()
		close(f.done)
		return f.value, f.err
	}
}
