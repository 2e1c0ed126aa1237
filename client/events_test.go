package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type streamResult struct {
	ev  *Event
	err error
}

// collect runs the stream in the background (iterators are lazy: nothing
// connects until someone ranges over them) and delivers what it yields.
func collect(seq iter.Seq2[*Event, error]) <-chan streamResult {
	ch := make(chan streamResult, 100)
	go func() {
		defer close(ch)
		for ev, err := range seq {
			ch <- streamResult{ev, err}
		}
	}()
	return ch
}

// next returns the next event, failing the test on an error, an end of
// the stream or a timeout.
func next(t *testing.T, ch <-chan streamResult) *Event {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok || r.err != nil {
			t.Fatalf("stream ended: open=%v err=%v", ok, r.err)
		}
		return r.ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20s")
	}
	return nil
}

func TestEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := newProxy(t, b.srv.URL)
	reader := mustNew(t, p.URL, b.srv.CreateKey(t, "watcher", "request:read"), fastRetry())
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()

	pull := collect(reader.Events(ctx, EventsOptions{Action: []string{"stream_test"}}))
	// The stream is live once the proxy has passed its request on.
	p.waitSeen(t, "GET /api/events")
	mustRequest(t, b.agent, RequestInput{Action: "ignored_by_filter"})
	r1 := mustRequest(t, b.agent, RequestInput{Action: "stream_test"})
	ev := next(t, pull)
	if ev.Type != EventRequestCreated || ev.Request.ID != r1.ID || ev.ID == "" {
		t.Fatalf("first event = %+v, want request.created of %s", ev, r1.ID)
	}
	firstID := ev.ID
	if _, err := b.approver.Decide(ctx, r1.ID, DecideInput{Decision: StatusApproved}); err != nil {
		t.Fatal(err)
	}
	ev = next(t, pull)
	if ev.Type != EventRequestDecided || ev.Request.ID != r1.ID || !ev.Request.Approved() {
		t.Fatalf("second event = %+v, want request.decided (approved) of %s", ev, r1.ID)
	}

	// The connection drops; events happen meanwhile; the stream
	// reconnects with Last-Event-ID and the server replays them.
	p.CloseClientConnections()
	r2 := mustRequest(t, b.agent, RequestInput{Action: "stream_test"})
	if _, err := b.approver.Decide(ctx, r2.ID, DecideInput{Decision: StatusDenied}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		ev := next(t, pull)
		got = append(got, ev.Type+" "+ev.Request.ID)
	}
	want := []string{EventRequestCreated + " " + r2.ID, EventRequestDecided + " " + r2.ID}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events after the reconnection (-want +got):\n%s", d)
	}
	p.waitSeen(t, "GET /api/events") // it did reconnect

	// Resuming from a saved id replays what came after it: here, from
	// r1's creation, filtered to r1, only its decision.
	pull2 := collect(reader.Events(ctx, EventsOptions{LastEventID: firstID, RequestID: []string{r1.ID}}))
	ev = next(t, pull2)
	if ev.Type != EventRequestDecided || ev.Request.ID != r1.ID {
		t.Errorf("resumed stream's first event = %s %s, want r1's decision", ev.Type, ev.Request.ID)
	}
}

func TestEventsPermanentErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tests := []struct {
		name string
		c    *Client
		opts EventsOptions
		want error
	}{
		{"bad key", mustNew(t, b.srv.URL, "agk_"+strings.Repeat("B", 43)), EventsOptions{}, ErrUnauthorized},
		{"bad filter", b.reader, EventsOptions{Status: []Status{"bogus"}}, ErrInvalid},
		{"bad last id", b.reader, EventsOptions{LastEventID: "x"}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			for ev, err := range tt.c.Events(testCtx(t), tt.opts) {
				n++
				if ev != nil || !errors.Is(err, tt.want) {
					t.Errorf("got %v, %v; want %v", ev, err, tt.want)
				}
			}
			if n != 1 {
				t.Errorf("yielded %d times, want once", n)
			}
		})
	}
}

// TestEventsParsing feeds a scripted stream: comments, multi-line data,
// CRLF endings, a repeated (replayed) event, an unreadable one, and a
// clean end followed by a reconnection that sends Last-Event-ID.
func TestEventsParsing(t *testing.T) {
	t.Parallel()
	req := func(id string) string { return requestJSON(id, StatusPending) }
	var (
		mu      sync.Mutex
		lastIDs []string
		conn    int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		conn++
		n := conn
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		switch n {
		case 1:
			fmt.Fprint(w, "retry: 1\r\n: connected\r\n\r\n")
			fmt.Fprintf(w, "id: 1\nevent: request.created\ndata: {\"id\":\"1\",\"type\":\"request.created\",\ndata: \"request\":%s}\n\n", req("req_a"))
			fmt.Fprint(w, ": heartbeat\n\n")
			fmt.Fprint(w, "id: 2\nevent: request.created\ndata: not json\n\n")
		case 2:
			// A replay repeats event 1 before the new event 3.
			fmt.Fprintf(w, "id: 1\ndata: {\"id\":\"1\",\"type\":\"request.created\",\"request\":%s}\n\n", req("req_a"))
			fmt.Fprintf(w, "id: 3\ndata: {\"id\":\"3\",\"type\":\"request.decided\",\"request\":%s}\n\n", req("req_b"))
		default:
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	c, rec := fakeClient(t, srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []string
	for ev, err := range c.Events(ctx, EventsOptions{LastEventID: "0"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.ID+" "+ev.Type+" "+ev.Request.ID)
		if len(got) == 2 {
			break
		}
	}
	if d := cmp.Diff([]string{"1 request.created req_a", "3 request.decided req_b"}, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff([]string{"0", "2"}, lastIDs); d != "" {
		t.Errorf("Last-Event-ID per connection (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]time.Duration{time.Millisecond}, rec.got()); d != "" {
		t.Errorf("reconnection delays (-want +got): the server's retry hint\n%s", d)
	}
}
