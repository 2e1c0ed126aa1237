package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// failOpenRecorder puts calls that --fail-open forwarded without approval
// into AgentGate once it answers again, so they appear in the audit trail
// and in front of a reviewer. Each record is an ordinary request for the
// same action and arguments, urgency high, whose context carries
// mcp.failOpen = {executedAt, error}: it says "this already ran". Deciding
// it records a reviewer's verdict and executes nothing; a policy can
// route such records (match context.mcp.failOpen with $exists) to whoever
// reviews incidents.
//
// Records live in memory: if the gateway stops before AgentGate comes
// back, the warnings on stderr are the only trace, and the gateway says
// how many records it lost.
type failOpenRecorder struct {
	b   Backend
	log *slog.Logger
	max int

	mu      sync.Mutex
	pending []Ask
	dropped int
	wake    chan struct{} // buffered, capacity 1
}

func newFailOpenRecorder(b Backend, log *slog.Logger) *failOpenRecorder {
	return &failOpenRecorder{b: b, log: log, max: 1000, wake: make(chan struct{}, 1)}
}

// add queues a record of a call forwarded at executedAt because of cause.
func (f *failOpenRecorder) add(a Ask, executedAt time.Time, cause error) {
	var ctxObj map[string]any
	_ = json.Unmarshal(a.Context, &ctxObj)
	if ctxObj == nil {
		ctxObj = map[string]any{}
	}
	m, _ := ctxObj["mcp"].(map[string]any)
	if m == nil {
		m = map[string]any{}
		ctxObj["mcp"] = m
	}
	m["failOpen"] = map[string]any{
		"executedAt": formatTime(executedAt),
		"error":      cause.Error(),
		"note":       "forwarded WITHOUT approval because AgentGate could not be reached (--fail-open); this record was filed afterwards",
	}
	a.Context, _ = json.Marshal(ctxObj)
	a.Urgency = "high"
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) >= f.max {
		f.pending = f.pending[1:]
		f.dropped++
		f.log.Error("mcp proxy: too many unrecorded fail-open calls; dropping the oldest record", "dropped", f.dropped)
	}
	f.pending = append(f.pending, a)
}

// kick asks the loop to try now: AgentGate just answered.
func (f *failOpenRecorder) kick() {
	f.mu.Lock()
	n := len(f.pending)
	f.mu.Unlock()
	if n == 0 {
		return
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// loop records pending calls every interval and when kicked, until ctx
// ends.
func (f *failOpenRecorder) loop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.wake:
		}
		f.flush(ctx)
	}
}

// flush files every pending record it can and returns how many remain.
// A record AgentGate refuses for another reason than being unreachable
// (a bad key, a missing scope) is logged and dropped: retrying cannot fix
// it.
func (f *failOpenRecorder) flush(ctx context.Context) int {
	for {
		f.mu.Lock()
		if len(f.pending) == 0 {
			f.mu.Unlock()
			return 0
		}
		a := f.pending[0]
		f.mu.Unlock()
		r, err := f.b.Request(ctx, a)
		if err != nil && (errors.Is(err, ErrUnavailable) || ctx.Err() != nil) {
			f.mu.Lock()
			n := len(f.pending)
			f.mu.Unlock()
			return n
		}
		f.mu.Lock()
		f.pending = f.pending[1:]
		f.mu.Unlock()
		if err != nil {
			f.log.Error("mcp proxy: AgentGate refused the record of a fail-open call", "action", a.Action, "err", err)
			continue
		}
		f.log.Warn("mcp proxy: recorded a fail-open call in AgentGate", "action", a.Action, "request", r.ID)
	}
}
