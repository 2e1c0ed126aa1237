package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// EventsOptions select the events of a stream. Empty filters mean "all".
type EventsOptions struct {
	Status    []Status // the request's status after the event
	Action    []string
	RequestID []string
	// LastEventID resumes a stream after that event: the server first
	// replays what happened since.
	LastEventID string
	// IdleTimeout reconnects when the server sends nothing (not even its
	// 15-second heartbeat) for that long. Defaults to 45 seconds.
	IdleTimeout time.Duration
}

// Events streams request events (created, decided, expired) from
// GET /api/events as they happen:
//
//	for ev, err := range c.Events(ctx, client.EventsOptions{}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(ev.Type, ev.Request.ID, ev.Request.Status)
//	}
//
// The stream reconnects by itself when the connection drops, the server
// restarts or goes silent, sending the id of the last event it delivered
// (Last-Event-ID) so the server replays what was missed; events replayed
// twice are skipped. It ends when ctx ends (check ctx.Err()) or the loop
// breaks. An error that reconnecting cannot fix (ErrUnauthorized,
// ErrForbidden, ErrInvalid, a server without the stream) is yielded once
// and ends the stream.
func (c *Client) Events(ctx context.Context, opts EventsOptions) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		s := &stream{c: c, opts: opts, lastID: opts.LastEventID, seen: newRecent(4096)}
		if s.opts.IdleTimeout <= 0 {
			s.opts.IdleTimeout = 45 * time.Second
		}
		failures := 0
		for ctx.Err() == nil {
			connected, err := s.run(ctx, yield)
			if errors.Is(err, errStopped) || ctx.Err() != nil {
				return
			}
			if connected {
				failures = 0
			}
			var delay time.Duration
			if apiErr, ok := errors.AsType[*APIError](err); ok {
				switch {
				case apiErr.StatusCode == http.StatusTooManyRequests:
					delay = apiErr.RetryAfter
				case apiErr.StatusCode < 500:
					yield(nil, err)
					return
				}
			}
			if err == nil && connected {
				// The server ended the stream cleanly (a restart, or it
				// asks for a replay): come back after its retry hint.
				delay = s.retry
			}
			if delay <= 0 {
				failures++
				delay = c.backoff(failures)
			}
			c.log.DebugContext(ctx, "agentgate: event stream reconnecting", "delay", delay.String(), "last_event_id", s.lastID, "err", fmt.Sprint(err))
			_ = c.sleep(ctx, delay)
		}
	}
}

var errStopped = errors.New("stopped by the caller")

type stream struct {
	c      *Client
	opts   EventsOptions
	lastID string
	retry  time.Duration // the server's "retry:" hint
	seen   *recent
}

func (s *stream) url() string {
	q := url.Values{}
	join := func(k string, vs []string) {
		if len(vs) > 0 {
			q.Set(k, strings.Join(vs, ","))
		}
	}
	st := make([]string, len(s.opts.Status))
	for i, v := range s.opts.Status {
		st[i] = string(v)
	}
	join("status", st)
	join("action", s.opts.Action)
	join("requestId", s.opts.RequestID)
	u := s.c.baseStr + "/api/events"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// run holds one connection until it ends. connected reports whether the
// server accepted the stream.
func (s *stream) run(ctx context.Context, yield func(*Event, error) bool) (connected bool, err error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, s.url(), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("User-Agent", s.c.userAgent)
	if s.c.key != "" {
		req.Header.Set("Authorization", "Bearer "+s.c.key)
	}
	if s.lastID != "" {
		req.Header.Set("Last-Event-ID", s.lastID)
	}
	cl := &call{method: http.MethodGet, path: "/api/events"}
	// The watchdog closes a connection that went silent.
	idle := time.AfterFunc(s.opts.IdleTimeout, cancel)
	defer idle.Stop()
	resp, err := s.c.hc.Do(req)
	if err != nil {
		return false, s.c.netError(cl, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return false, newAPIError(cl.method, cl.path, resp, body)
	}
	if mt := resp.Header.Get("Content-Type"); !strings.HasPrefix(mt, "text/event-stream") {
		return false, &APIError{StatusCode: resp.StatusCode, Method: cl.method, Path: cl.path,
			RequestID: resp.Header.Get("X-Request-Id"),
			Message:   fmt.Sprintf("the server answered with %q, not an event stream", mt)}
	}
	br := bufio.NewReader(resp.Body)
	var (
		id, typ string
		data    strings.Builder
		hasID   bool
	)
	for {
		line, err := br.ReadString('\n')
		idle.Reset(s.opts.IdleTimeout)
		if err != nil {
			if errors.Is(err, io.EOF) && ctx.Err() == nil && cctx.Err() == nil {
				return true, nil
			}
			return true, s.c.netError(cl, err)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" { // dispatch
			if hasID {
				s.lastID = id
			}
			if data.Len() > 0 {
				ev, err := decodeEvent(typ, data.String())
				if err != nil {
					s.c.log.WarnContext(ctx, "agentgate: skipping an unreadable event", "id", id, "err", err.Error())
				} else if ev.ID == "" || !s.seen.add(ev.ID) {
					if !yield(ev, nil) {
						return true, errStopped
					}
				}
			}
			typ, hasID = "", false
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment: heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			if !strings.ContainsRune(value, 0) {
				id, hasID = value, true
			}
		case "event":
			typ = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				s.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

func decodeEvent(typ, data string) (*Event, error) {
	var ev Event
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return nil, err
	}
	if ev.Type == "" {
		ev.Type = typ
	}
	if ev.Request == nil {
		return nil, errors.New("event without a request")
	}
	return &ev, nil
}

// recent remembers the last n event ids, to drop events a replay repeats.
type recent struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecent(n int) *recent {
	return &recent{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id and reports whether it was already there.
func (r *recent) add(id string) bool {
	if _, ok := r.set[id]; ok {
		return true
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.set[id] = struct{}{}
	return false
}
