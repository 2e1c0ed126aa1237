package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/wire"
)

// parseWaitTimeout reads ?timeout= as a Go duration ("30s", "2m") or a
// number of seconds ("30").
func parseWaitTimeout(v string, def, maxWait time.Duration) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return min(def, maxWait), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, serr := strconv.ParseFloat(v, 64)
		if serr != nil {
			return 0, approval.Errorf(approval.CodeInvalid, "timeout must be a duration such as 30s or a number of seconds")
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 || d > maxWait {
		return 0, approval.Errorf(approval.CodeInvalid, "timeout must be between 0s and %s", maxWait)
	}
	return d, nil
}

// waitRequest is the long-poll: it answers as soon as the request is no
// longer pending, or with the pending request when the timeout passes.
func (s *Server) waitRequest(w http.ResponseWriter, r *http.Request) error {
	timeout, err := parseWaitTimeout(r.URL.Query().Get("timeout"), s.cfg.DefaultWait, s.cfg.MaxWait)
	if err != nil {
		return err
	}
	release, err := s.acquireStream(r)
	if err != nil {
		return err
	}
	parked, cur, err := s.tryPark(w, r, r.PathValue("id"), timeout, release)
	if parked {
		return nil
	}
	defer release()
	if err != nil {
		return err
	}
	if cur != nil && cur.Status != approval.StatusPending {
		writeRequest(w, http.StatusOK, cur)
		return nil
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + 10*time.Second))
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	req, err := s.approvals.Wait(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	// Answer even when r's context ended: on shutdown the waiter gets the
	// pending request instead of a reset connection (a departed client's
	// write just fails).
	w.Header().Set("X-AgentGate-Wait-Timeout", fmt.Sprintf("%.0f", timeout.Seconds()))
	writeRequest(w, http.StatusOK, req)
	return nil
}

// StreamEvent is the data of one Server-Sent Event.
type StreamEvent struct {
	ID      string       `json:"id"`
	Type    string       `json:"type"`
	Request wire.Request `json:"request"`
}

type streamFilter struct {
	statuses   []string
	actions    []string
	requestIDs []string
}

func splitList(v string) []string {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (f streamFilter) match(typ string, req *approval.Request) bool {
	return (len(f.statuses) == 0 || slices.Contains(f.statuses, string(req.Status))) &&
		(len(f.actions) == 0 || slices.Contains(f.actions, req.Action)) &&
		(len(f.requestIDs) == 0 || slices.Contains(f.requestIDs, req.ID))
}

// streamEvents serves GET /api/events as Server-Sent Events. A client
// that reconnects with Last-Event-ID first receives what it missed.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := streamFilter{statuses: splitList(q.Get("status")), actions: splitList(q.Get("action")), requestIDs: splitList(q.Get("requestId"))}
	for _, st := range f.statuses {
		if !approval.Status(st).Valid() {
			return approval.Errorf(approval.CodeInvalid, "status must be one of pending, approved, denied, expired")
		}
	}
	var lastID int64
	if v := r.Header.Get("Last-Event-ID"); v != "" || q.Get("lastEventId") != "" {
		if v == "" {
			v = q.Get("lastEventId")
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return approval.Errorf(approval.CodeInvalid, "Last-Event-ID must be an event id from this stream")
		}
		lastID = n
	}
	if s.hub == nil {
		return approval.Errorf(approval.CodeUnavailable, "event streaming is not available")
	}
	release, err := s.acquireStream(r)
	if err != nil {
		return err
	}
	defer release()

	EventStream{
		Approvals:   s.approvals,
		Hub:         s.hub,
		Match:       f.match,
		LastEventID: lastID,
		Heartbeat:   s.cfg.Heartbeat,
	}.Serve(w, r)
	return nil
}

// acquireStream bounds the long-polls and streams a key holds at once.
func (s *Server) acquireStream(r *http.Request) (func(), error) {
	if s.cfg.MaxStreamsPerKey <= 0 {
		return func() {}, nil
	}
	key := principal(r).KeyID
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	if s.streams[key] >= s.cfg.MaxStreamsPerKey {
		return nil, &approval.Error{Code: approval.CodeRateLimited, RetryAfter: time.Second,
			Message: fmt.Sprintf("too many concurrent long-polls and streams for this key (at most %d)", s.cfg.MaxStreamsPerKey)}
	}
	s.streams[key]++
	return func() {
		s.streamsMu.Lock()
		defer s.streamsMu.Unlock()
		if s.streams[key]--; s.streams[key] <= 0 {
			delete(s.streams, key)
		}
	}, nil
}
