package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/testserver"
)

// cluster is several real server processes sharing one PostgreSQL schema.
type cluster struct {
	procs []*proc
	admin string
	env   []string
}

func startCluster(t *testing.T, n int, extraEnv ...string) *cluster {
	t.Helper()
	dbURL := testserver.PostgresURL(t) // skips without AGENTGATE_TEST_POSTGRES_URL
	c := &cluster{admin: "replica-test-admin-key-0123456789"}
	c.env = append([]string{"DATABASE_URL=" + dbURL, "ADMIN_API_KEY=" + c.admin, "AGENTGATE_EXPIRY_SWEEP_INTERVAL=200ms",
		"AGENTGATE_WEBHOOK_ALLOW_PRIVATE=true", "AGENTGATE_WEBHOOK_RETRY_BASE=50ms", "AGENTGATE_LOG_LEVEL=warn"}, extraEnv...)
	// Start them together: migrations must run once under their locks.
	var wg sync.WaitGroup
	c.procs = make([]*proc, n)
	ports := make([]int, n)
	for i := range n {
		ports[i] = freePort(t)
	}
	for i := range n {
		wg.Go(func() { c.procs[i] = startServer(t, ports[i], c.env...) })
	}
	wg.Wait()
	return c
}

func (c *cluster) sdk(t *testing.T, i int, key string) *client.Client {
	t.Helper()
	cl, err := client.New(c.procs[i].url, key, client.WithRetry(6, 20*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestReplicas runs three real server processes on one PostgreSQL schema
// and checks that nothing depends on which process a client reaches.
func TestReplicas(t *testing.T) {
	var extra []string
	redisURL := os.Getenv("AGENTGATE_TEST_REDIS_URL")
	if redisURL != "" {
		extra = append(extra, "REDIS_URL="+redisURL)
	}
	c := startCluster(t, 3, extra...)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	admin := c.sdk(t, 0, c.admin)
	agentKey, err := admin.CreateKey(ctx, client.KeyInput{Name: "agent", Scopes: []client.Scope{client.ScopeRequestCreate, client.ScopeRequestRead}})
	if err != nil {
		t.Fatal(err)
	}
	humanKey, err := admin.CreateKey(ctx, client.KeyInput{Name: "alice", Scopes: []client.Scope{client.ScopeRequestDecide, client.ScopeRequestRead}})
	if err != nil {
		t.Fatal(err)
	}
	agentA, agentB := c.sdk(t, 0, agentKey.Secret), c.sdk(t, 1, agentKey.Secret)
	humanC := c.sdk(t, 2, humanKey.Secret)

	// A webhook subscriber (created on B) must get every event exactly once.
	var (
		hookMu sync.Mutex
		hooks  = map[string]int{} // delivery id -> times received
		events = map[string]int{} // event + request id -> times
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ID    string `json:"id"`
			Event string `json:"event"`
			Data  struct {
				Request struct {
					ID string `json:"id"`
				} `json:"request"`
			} `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		hookMu.Lock()
		hooks[body.ID]++
		events[body.Event+" "+body.Data.Request.ID]++
		hookMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	if _, err := c.sdk(t, 1, c.admin).CreateWebhook(ctx, client.WebhookInput{URL: receiver.URL, Events: []string{"request.created", "request.decided"}}); err != nil {
		t.Fatal(err)
	}

	// An SSE stream on A.
	seen := make(chan *client.Event, 1000)
	sctx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	go func() {
		for ev, err := range agentA.Events(sctx, client.EventsOptions{}) {
			if err != nil {
				return
			}
			seen <- ev
		}
	}()
	time.Sleep(300 * time.Millisecond) // the stream is connected

	t.Run("created on A, waited on B, decided on C", func(t *testing.T) {
		var best time.Duration = time.Hour
		for range 5 {
			r, err := agentA.Request(ctx, client.RequestInput{Action: "replica.deploy"})
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan time.Time, 1)
			go func() {
				w, err := agentB.Wait(ctx, r.ID)
				if err == nil && w.Status == client.StatusApproved {
					got <- time.Now()
				}
			}()
			time.Sleep(150 * time.Millisecond) // the long-poll is waiting on B
			decided := time.Now()              // from the start of the decide call: an upper bound
			if _, err := humanC.Decide(ctx, r.ID, client.DecideInput{Decision: client.StatusApproved, Reason: "ok"}); err != nil {
				t.Fatal(err)
			}
			select {
			case at := <-got:
				if d := at.Sub(decided); d < best {
					best = d
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the waiter on B never saw the decision made on C")
			}
		}
		t.Logf("decision on C seen by the waiter on B %v after the decide call started (best of 5)", best)
		if best > 100*time.Millisecond {
			t.Errorf("best cross-process wake-up %v, want within 100ms", best)
		}
	})

	t.Run("SSE on A sees events caused on B and C", func(t *testing.T) {
		r, err := agentB.Request(ctx, client.RequestInput{Action: "replica.stream"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := humanC.Decide(ctx, r.ID, client.DecideInput{Decision: client.StatusDenied}); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"request.created": false, "request.decided": false}
		deadline := time.After(10 * time.Second)
		for !want["request.created"] || !want["request.decided"] {
			select {
			case ev := <-seen:
				if ev.Request.ID == r.ID {
					want[ev.Type] = true
				}
			case <-deadline:
				t.Fatalf("stream on A saw %v for a request created on B and decided on C", want)
			}
		}
	})

	t.Run("a policy saved on A is in force on B for the next request", func(t *testing.T) {
		// Warm B's policy cache first, so a stale cache would show.
		if _, err := agentB.Request(ctx, client.RequestInput{Action: "replica.policy"}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CreatePolicy(ctx, client.PolicyInput{Name: "replica auto", Priority: new(1), Rules: []client.Rule{
			{Match: map[string]any{"action": "replica.policy"}, Decision: client.DecisionAutoApprove},
		}}); err != nil {
			t.Fatal(err)
		}
		r, err := agentB.Request(ctx, client.RequestInput{Action: "replica.policy"})
		if err != nil || r.Status != client.StatusApproved {
			t.Fatalf("request on B right after the policy was saved on A: %v %s", err, r.Status)
		}
	})

	t.Run("a key revoked on A stops working on B at once", func(t *testing.T) {
		k, err := admin.CreateKey(ctx, client.KeyInput{Name: "short-lived", Scopes: []client.Scope{client.ScopeRequestRead}})
		if err != nil {
			t.Fatal(err)
		}
		onB := c.sdk(t, 1, k.Secret)
		if _, err := onB.Me(ctx); err != nil { // B now holds the key in its cache
			t.Fatal(err)
		}
		if err := admin.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		revoked := time.Now()
		for {
			_, err := onB.Me(ctx)
			if errors.Is(err, client.ErrUnauthorized) {
				t.Logf("B refused the key %v after A revoked it", time.Since(revoked).Round(time.Microsecond))
				break
			}
			if time.Since(revoked) > 200*time.Millisecond {
				t.Fatalf("B still accepts a key revoked on A %v ago (err %v)", time.Since(revoked), err)
			}
			time.Sleep(time.Millisecond)
		}
	})

	t.Run("a timer fires once", func(t *testing.T) {
		r, err := agentB.Request(ctx, client.RequestInput{Action: "replica.expire", ExpiresAt: time.Now().Add(600 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		w, err := agentA.Wait(ctx, r.ID)
		if err != nil || w.Status != client.StatusExpired {
			t.Fatalf("wait for expiry: %v %+v", err, w)
		}
		trail, err := agentA.Audit(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range trail {
			if e.EventType == "expired" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d expiry events across three processes, want 1", n)
		}
	})

	t.Run("a rate limit is shared", func(t *testing.T) {
		if redisURL == "" {
			t.Skip("AGENTGATE_TEST_REDIS_URL not set; the shared rate limit needs Redis (CI sets it)")
		}
		limit := 10
		k, err := admin.CreateKey(ctx, client.KeyInput{Name: "limited", Scopes: []client.Scope{client.ScopeRequestRead}, RateLimit: &limit})
		if err != nil {
			t.Fatal(err)
		}
		ok, limited := 0, 0
		for i := range 30 {
			req, _ := http.NewRequestWithContext(ctx, "GET", c.procs[i%3].url+"/api/me", nil)
			req.Header.Set("Authorization", "Bearer "+k.Secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok++
			case 429:
				limited++
			default:
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		if ok != limit || limited != 30-limit {
			t.Fatalf("%d allowed and %d limited across three processes, want %d and %d", ok, limited, limit, 30-limit)
		}
	})

	t.Run("SIGKILL under load loses nothing acknowledged", func(t *testing.T) {
		var (
			mu        sync.Mutex
			created   []string
			decided   = map[string]bool{}
			failures  atomic.Int64
			wg        sync.WaitGroup
			stop      = make(chan struct{})
			survivors = []int{0, 1}
		)
		for w := range 6 {
			wg.Go(func() {
				// Agents and deciders alternate between the survivors and
				// the victim; the SDK retries against the same process, so
				// a client of the victim switches to a survivor on errors.
				target := w % 3
				agent, human := c.sdk(t, target, agentKey.Secret), c.sdk(t, target, humanKey.Secret)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					r, err := agent.Request(ctx, client.RequestInput{Action: "replica.load", Params: map[string]any{"w": w, "i": i}})
					if err != nil {
						failures.Add(1)
						s := survivors[w%2]
						agent, human = c.sdk(t, s, agentKey.Secret), c.sdk(t, s, humanKey.Secret)
						continue
					}
					mu.Lock()
					created = append(created, r.ID)
					mu.Unlock()
					if i%2 == 0 {
						if _, err := human.Decide(ctx, r.ID, client.DecideInput{Decision: client.StatusApproved}); err == nil {
							mu.Lock()
							decided[r.ID] = true
							mu.Unlock()
						} else {
							failures.Add(1)
						}
					}
				}
			})
		}
		time.Sleep(time.Second)
		c.procs[2].kill()
		time.Sleep(time.Second)
		close(stop)
		wg.Wait()
		t.Logf("%d requests and %d decisions acknowledged; %d calls failed around the kill and were retried on a survivor",
			len(created), len(decided), failures.Load())
		check := c.sdk(t, 0, agentKey.Secret)
		for _, id := range created {
			r, err := check.Get(ctx, id)
			if err != nil {
				t.Fatalf("acknowledged request %s is gone: %v", id, err)
			}
			if decided[id] && r.Status != client.StatusApproved {
				t.Fatalf("acknowledged decision on %s is gone: %s", id, r.Status)
			}
		}
	})

	// Every webhook event arrived exactly once (retries use the same id).
	time.Sleep(2 * time.Second)
	hookMu.Lock()
	defer hookMu.Unlock()
	for id, n := range hooks {
		if n != 1 && id != "" {
			t.Errorf("delivery %s received %d times", id, n)
		}
	}
	var dup []string
	for k, n := range events {
		if n != 1 {
			dup = append(dup, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	slices.Sort(dup)
	if len(dup) > 0 {
		t.Errorf("events received more than once: %v", dup)
	}
	if len(events) < 10 {
		t.Errorf("only %d webhook events received", len(events))
	}
}
