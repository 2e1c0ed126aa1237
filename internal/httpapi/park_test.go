package httpapi_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/events"
	"github.com/agentgate/agentgate/internal/testserver"
)

type waitResult struct {
	resp *http.Response
	body []byte
	err  error
	took time.Duration
}

// startWait starts a long-poll on request id and returns its result later.
func startWait(ctx context.Context, client *http.Client, url, key, id, timeout string) <-chan waitResult {
	out := make(chan waitResult, 1)
	go func() {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/requests/"+id+"/wait?timeout="+timeout, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			out <- waitResult{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		out <- waitResult{resp: resp, body: body, err: err, took: time.Since(start)}
	}()
	return out
}

// waitSlotTaken waits until the long-poll is being served (it watches its
// request in the hub; its key's only slot is then taken), and when parked,
// until it is parked.
func waitSlotTaken(t *testing.T, s *testserver.Server, key, id string, parked bool, res <-chan waitResult) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.App.Hub.Subscribers() == 0 {
		select {
		case r := <-res:
			t.Fatalf("the long-poll ended before it was seen waiting: %+v %s", r, r.body)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the long-poll never reached the server")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if parked {
		waitParked(t, s, 1)
	}
	if resp, body := get(t, s.URL+"/api/requests/"+id+"/wait?timeout=0", key); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second long-poll of a key limited to 1: %d %s", resp.StatusCode, body)
	}
}

// waitParked waits until the server holds n parked long-polls.
func waitParked(t *testing.T, s *testserver.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.App.API.Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("parked long-polls: %d, want %d", s.App.API.Parked(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func statusOf(t *testing.T, body []byte) (status, decidedBy, reason string) {
	t.Helper()
	var r struct {
		Status    string `json:"status"`
		DecidedBy string `json:"decidedBy"`
		Reason    string `json:"decisionReason"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return r.Status, r.DecidedBy, r.Reason
}

// TestLongPollParkedAndNot runs the long-poll's observable behaviour with
// parking on and off: the same answers, headers and limits.
func TestLongPollParkedAndNot(t *testing.T) {
	t.Parallel()
	for _, park := range []bool{true, false} {
		name := map[bool]string{true: "parked", false: "on a goroutine"}[park]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			s := testserver.Start(t, &testserver.Options{Log: logs, Configure: func(c *config.Config) {
				c.ParkLongPolls = park
				c.AccessLog = true
				c.MaxStreams = 1
				c.DefaultRateLimit = 1000
			}})
			agentID, agent, _ := createKey(t, s, map[string]any{"name": "agent", "scopes": []string{"request:create", "request:read"}})
			_ = agentID
			id := createPending(t, s, agent)
			wantParked := 0
			if park {
				wantParked = 1
			}

			t.Run("a decision answers at once", func(t *testing.T) {
				res := startWait(context.Background(), http.DefaultClient, s.URL, agent, id, "30s")
				waitSlotTaken(t, s, agent, id, park, res)
				// A change that leaves it pending keeps it waiting.
				s.App.Hub.Deliver(events.Message{Type: events.TypeResync})
				time.Sleep(50 * time.Millisecond)
				if got := s.App.API.Parked(); got != wantParked {
					t.Fatalf("after a resync: %d parked, want %d", got, wantParked)
				}
				select {
				case r := <-res:
					t.Fatalf("answered before the decision: %+v %s", r.resp, r.body)
				default:
				}
				if resp, body := send(t, nil, http.MethodPost, s.URL+"/api/requests/"+id+"/decide", s.AdminKey,
					map[string]any{"decision": "approved", "reason": "ship it"}); resp.StatusCode != http.StatusOK {
					t.Fatalf("decide: %d %s", resp.StatusCode, body)
				}
				var r waitResult
				select {
				case r = <-res:
				case <-time.After(5 * time.Second):
					t.Fatal("the waiter was not answered within 5s of the decision")
				}
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.resp.StatusCode != http.StatusOK {
					t.Fatalf("wait: %d %s", r.resp.StatusCode, r.body)
				}
				if st, by, reason := statusOf(t, r.body); st != "approved" || by != "test-admin" || reason != "ship it" {
					t.Errorf("wait answered %s by %q (%q)", st, by, reason)
				}
				h := r.resp.Header
				for _, name := range []string{"X-Request-Id", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Content-Type-Options", "X-Agentgate-Wait-Timeout"} {
					if h.Get(name) == "" {
						t.Errorf("header %s missing: %v", name, h)
					}
				}
				if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				if park != r.resp.Close {
					t.Errorf("connection closed after the answer: %v, want %v", r.resp.Close, park)
				}
				if got := s.App.API.Parked(); got != 0 {
					t.Errorf("%d still parked after the answer", got)
				}
				// The slot is free again.
				if resp, body := get(t, s.URL+"/api/requests/"+id+"/wait?timeout=0", agent); resp.StatusCode != http.StatusOK {
					t.Fatalf("long-poll after the first ended: %d %s", resp.StatusCode, body)
				}
				// One access log line with the real status.
				n := 0
				for line := range strings.SplitSeq(logs.String(), "\n") {
					if strings.Contains(line, `"route":"GET /api/requests/{id}/wait"`) && strings.Contains(line, `"status":200`) &&
						strings.Contains(line, r.resp.Header.Get("X-Request-Id")) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d access log lines for the long-poll, want 1", n)
				}
			})

			t.Run("the timeout answers with the pending request", func(t *testing.T) {
				id := createPending(t, s, agent)
				res := startWait(context.Background(), http.DefaultClient, s.URL, agent, id, "1s")
				r := <-res
				if r.err != nil {
					t.Fatal(r.err)
				}
				if st, _, _ := statusOf(t, r.body); r.resp.StatusCode != http.StatusOK || st != "pending" {
					t.Fatalf("timeout: %d %s", r.resp.StatusCode, r.body)
				}
				if r.took < time.Second || r.took > 5*time.Second {
					t.Errorf("a 1s long-poll took %s", r.took)
				}
				if got := r.resp.Header.Get("X-AgentGate-Wait-Timeout"); got != "1" {
					t.Errorf("X-AgentGate-Wait-Timeout %q", got)
				}
			})

			t.Run("a client that leaves frees its slot by the timeout", func(t *testing.T) {
				id := createPending(t, s, agent)
				ctx, cancel := context.WithCancel(context.Background())
				res := startWait(ctx, http.DefaultClient, s.URL, agent, id, "1s")
				waitSlotTaken(t, s, agent, id, park, res)
				cancel()
				if r := <-res; r.err == nil {
					t.Fatalf("cancelled long-poll answered: %d", r.resp.StatusCode)
				}
				waitSlotFree(t, s, agent, id, 5*time.Second)
				waitParked(t, s, 0)
			})

			t.Run("shutdown answers waiters with the pending request", func(t *testing.T) {
				id := createPending(t, s, agent)
				res := startWait(context.Background(), http.DefaultClient, s.URL, agent, id, "30s")
				waitSlotTaken(t, s, agent, id, park, res)
				start := time.Now()
				s.Stop()
				r := <-res
				if r.err != nil {
					t.Fatalf("waiter at shutdown: %v", r.err)
				}
				if st, _, _ := statusOf(t, r.body); r.resp.StatusCode != http.StatusOK || st != "pending" {
					t.Fatalf("waiter at shutdown: %d %s", r.resp.StatusCode, r.body)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("shutdown took %s with a waiter", d)
				}
			})
		})
	}
}

// TestLongPollOverTLS: HTTP/1.1 over TLS parks; HTTP/2 cannot be
// hijacked and waits on its stream's goroutine. Both are answered.
func TestLongPollOverTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t)
	s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) {
		c.TLSCert, c.TLSKey = certFile, keyFile
	}})
	agent := s.CreateKey(t, "agent", auth.ScopeRequestCreate, auth.ScopeRequestRead)
	for _, h2 := range []bool{false, true} {
		client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}}
		resp, body := send(t, client, http.MethodPost, s.URL+"/api/requests", agent, map[string]any{"action": "deploy"})
		var created struct{ ID string }
		if err := json.Unmarshal(body, &created); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		id := created.ID
		res := startWait(context.Background(), client, s.URL, agent, id, "15s")
		if !h2 {
			waitParked(t, s, 1)
		} else {
			time.Sleep(200 * time.Millisecond)
			if got := s.App.API.Parked(); got != 0 {
				t.Fatalf("HTTP/2 long-poll parked (%d)", got)
			}
		}
		if resp, body := send(t, client, http.MethodPost, s.URL+"/api/requests/"+id+"/decide", s.AdminKey,
			map[string]any{"decision": "denied", "reason": "no"}); resp.StatusCode != http.StatusOK {
			t.Fatalf("decide: %d %s", resp.StatusCode, body)
		}
		r := <-res
		if r.err != nil {
			t.Fatalf("h2=%v: %v", h2, r.err)
		}
		if st, _, _ := statusOf(t, r.body); st != "denied" {
			t.Errorf("h2=%v: %d %s", h2, r.resp.StatusCode, r.body)
		}
		if wantMajor := map[bool]int{false: 1, true: 2}[h2]; r.resp.ProtoMajor != wantMajor {
			t.Errorf("protocol %s, want major %d", r.resp.Proto, wantMajor)
		}
		if got := r.resp.Header.Get("Strict-Transport-Security"); got == "" {
			t.Errorf("h2=%v: no HSTS on the long-poll answer", h2)
		}
	}
}

// TestParkedWaitersShareOneDecision: every waiter parked on a request
// receives the decision that wakes them all (they share one read).
func TestParkedWaitersShareOneDecision(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, nil)
	agent := s.CreateKey(t, "agent", auth.ScopeRequestCreate, auth.ScopeRequestRead)
	id := createPending(t, s, agent)
	const n = 50
	results := make([]<-chan waitResult, n)
	for i := range results {
		// One transport per waiter: each long-poll its own connection.
		client := &http.Client{Transport: &http.Transport{}}
		results[i] = startWait(context.Background(), client, s.URL, agent, id, "30s")
	}
	waitParked(t, s, n)
	if resp, body := send(t, nil, http.MethodPost, s.URL+"/api/requests/"+id+"/decide", s.AdminKey,
		map[string]any{"decision": "denied", "reason": "not today"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("decide: %d %s", resp.StatusCode, body)
	}
	for i, res := range results {
		select {
		case r := <-res:
			if r.err != nil {
				t.Fatalf("waiter %d: %v", i, r.err)
			}
			if st, _, reason := statusOf(t, r.body); st != "denied" || reason != "not today" {
				t.Errorf("waiter %d: %d %s", i, r.resp.StatusCode, r.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("waiter %d not answered within 10s of the decision", i)
		}
	}
	waitParked(t, s, 0)
}
