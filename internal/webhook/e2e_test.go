package webhook_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/testserver"
	"github.com/agentgate/agentgate/internal/webhook"
)

// hit is one request a receiver got.
type hit struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a webhook endpoint that records what it gets. respond picks
// the status of the nth hit (1-based).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	hits    []hit
	notify  chan struct{}
	respond func(n int) int
	// hang, when set, makes the receiver record a hit and then not answer
	// it (until the sender gives up) when it returns true for the body.
	hang func(body []byte) bool
}

func newReceiver(t testing.TB, respond func(n int) int) *receiver {
	return newHangingReceiver(t, respond, nil)
}

func newHangingReceiver(t testing.TB, respond func(n int) int, hang func(body []byte) bool) *receiver {
	t.Helper()
	rc := &receiver{notify: make(chan struct{}, 1), respond: respond, hang: hang}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{header: r.Header.Clone(), body: body, at: time.Now()})
		n := len(rc.hits)
		rc.mu.Unlock()
		select {
		case rc.notify <- struct{}{}:
		default:
		}
		if rc.hang != nil && rc.hang(body) {
			<-r.Context().Done()
			return
		}
		status := http.StatusOK
		if rc.respond != nil {
			status = rc.respond(n)
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "answer %d", n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) all() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

// waitHits waits until the receiver got at least n requests.
func (rc *receiver) waitHits(t testing.TB, n int, timeout time.Duration) []hit {
	t.Helper()
	deadline := time.After(timeout)
	for {
		rc.mu.Lock()
		got := len(rc.hits)
		rc.mu.Unlock()
		if got >= n { // counted without copying: benchmarks wait for thousands
			return rc.all()
		}
		select {
		case <-rc.notify:
		case <-deadline:
			t.Fatalf("receiver got %d requests, want %d within %v", len(rc.all()), n, timeout)
		}
	}
}

// eventually polls cond every 20ms until it holds or timeout passes; it is
// for state written asynchronously by the delivery worker.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call sends an API request and decodes a JSON answer into out (if not nil).
func call(t testing.TB, base, key, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: status %d, body %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

type createdWebhook struct {
	ID      string   `json:"id"`
	URL     string   `json:"url"`
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
	Secret  string   `json:"secret"`
	Error   string   `json:"error"`
}

func createWebhook(t testing.TB, s *testserver.Server, url string, events []string, secret string) createdWebhook {
	t.Helper()
	body := map[string]any{"url": url, "events": events}
	if secret != "" {
		body["secret"] = secret
	}
	var out createdWebhook
	if st := call(t, s.URL, s.AdminKey, "POST", "/api/webhooks", body, &out); st != http.StatusCreated {
		t.Fatalf("create webhook: status %d: %s", st, out.Error)
	}
	return out
}

type wireRequest struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Action string `json:"action"`
}

func createRequest(t testing.TB, base, key, action string) wireRequest {
	t.Helper()
	var out wireRequest
	if st := call(t, base, key, "POST", "/api/requests", map[string]any{"action": action, "params": map[string]any{"n": 1}}, &out); st != http.StatusCreated {
		t.Fatalf("create request: status %d", st)
	}
	return out
}

type delivery struct {
	ID             string          `json:"id"`
	WebhookID      string          `json:"webhookId"`
	Event          string          `json:"event"`
	RequestID      *string         `json:"requestId"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	LastStatusCode *int            `json:"lastStatusCode"`
	LastError      *string         `json:"lastError"`
	Data           json.RawMessage `json:"data"`
	AttemptLog     []struct {
		Attempt      int     `json:"attempt"`
		StatusCode   *int    `json:"statusCode"`
		Error        *string `json:"error"`
		ResponseBody *string `json:"responseBody"`
	} `json:"attemptLog"`
}

type deliveryList struct {
	Deliveries []delivery `json:"deliveries"`
	Pagination struct {
		Total int `json:"total"`
	} `json:"pagination"`
}

func deliveries(t testing.TB, s *testserver.Server, webhookID, query string) deliveryList {
	t.Helper()
	var out deliveryList
	if st := call(t, s.URL, s.AdminKey, "GET", "/api/webhooks/"+webhookID+"/deliveries"+query, nil, &out); st != http.StatusOK {
		t.Fatalf("list deliveries: status %d", st)
	}
	return out
}

// verify checks a delivery the way a receiver would, written here
// independently of webhook.Sign: HMAC-SHA256 over the raw body with the
// secret, compared in constant time, and a timestamp within 5 minutes.
func verify(t testing.TB, secret string, h hit) {
	t.Helper()
	sig := h.header.Get("X-AgentGate-Signature")
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil {
		t.Fatalf("malformed signature header %q", sig)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(h.body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		t.Fatalf("signature %q does not verify with the webhook's secret", sig)
	}
	ts, err := strconv.ParseInt(h.header.Get("X-AgentGate-Timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		t.Fatalf("X-AgentGate-Timestamp %q is not a current unix time", h.header.Get("X-AgentGate-Timestamp"))
	}
	var p struct {
		ID        string `json:"id"`
		Event     string `json:"event"`
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(h.body, &p); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	bt, err := time.Parse(time.RFC3339Nano, p.Timestamp)
	if err != nil || bt.Unix() != ts || !strings.HasSuffix(p.Timestamp, "Z") || len(p.Timestamp) != len("2006-01-02T15:04:05.000Z") {
		t.Fatalf("body timestamp %q does not match the header %d or is not RFC 3339 ms UTC", p.Timestamp, ts)
	}
	if p.ID != h.header.Get("X-AgentGate-Delivery") || p.Event != h.header.Get("X-AgentGate-Event") {
		t.Fatalf("body id/event %s/%s differ from the headers", p.ID, p.Event)
	}
	if ct := h.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if ua := h.header.Get("User-Agent"); !strings.HasPrefix(ua, "AgentGate-Webhooks/") {
		t.Fatalf("User-Agent %q", ua)
	}
}

// batchCoverage fails t unless the seq ranges of batches (the batch jobs
// of one webhook) are disjoint, and returns how many "created" audit
// events the ranges hold.
func batchCoverage(t testing.TB, db *sql.DB, batches []webhook.BatchArgs) int {
	t.Helper()
	batches = slices.Clone(batches)
	slices.SortFunc(batches, func(a, b webhook.BatchArgs) int { return cmp.Compare(a.FromSeq, b.FromSeq) })
	n := 0
	for i, a := range batches {
		if a.FromSeq > a.ToSeq || (i > 0 && a.FromSeq <= batches[i-1].ToSeq) {
			t.Fatalf("batch ranges overlap or are empty: %+v after %+v", a, batches[max(i-1, 0)])
		}
		var c int
		if err := db.QueryRow(`SELECT COUNT(*) FROM audit_events WHERE event_type = 'created' AND seq >= $1 AND seq <= $2`,
			a.FromSeq, a.ToSeq).Scan(&c); err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// onBothDatabases runs fn on a new SQLite file and, when
// AGENTGATE_TEST_POSTGRES_URL is set, on a new PostgreSQL schema (dbURL
// is "" for SQLite).
func onBothDatabases(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, "") })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, testserver.PostgresURL(t)) })
}

// fastRetries lets webhooks reach the loopback receivers and retry fast.
func fastRetries(base time.Duration) func(*config.Config) {
	return func(c *config.Config) {
		c.WebhookAllowPrivate = true
		c.WebhookRetryBase = base
		c.WebhookTimeout = 5 * time.Second
	}
}

const testSecret = "whsec_test_0123456789abcdefghijklmnopqrstuvwxyz"

// TestRetriesUntilSuccess: a receiver that fails twice and then succeeds
// gets the event three times with one delivery id and a valid signature
// each time; the delivery log shows the three attempts.
func TestRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		rc := newReceiver(t, func(n int) int {
			if n <= 2 {
				return http.StatusServiceUnavailable
			}
			return http.StatusNoContent
		})
		s := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(20 * time.Millisecond)})
		wh := createWebhook(t, s, rc.URL+"/hook", []string{"request.created"}, testSecret)
		req := createRequest(t, s.URL, s.AdminKey, "deploy")

		hits := rc.waitHits(t, 3, 15*time.Second)
		id := hits[0].header.Get("X-AgentGate-Delivery")
		if !strings.HasPrefix(id, "dlv_") {
			t.Fatalf("delivery id %q", id)
		}
		for i, h := range hits {
			verify(t, testSecret, h)
			sig := h.header.Get("X-AgentGate-Signature")
			if !docVerify(testSecret, sig, h.body, time.Now()) || docVerify(testSecret, sig, h.body, time.Now().Add(6*time.Minute)) ||
				docVerify("whsec_other_secret_0123456789abcdefghij", sig, h.body, time.Now()) {
				t.Errorf("attempt %d: the verifier printed in docs/webhooks.md disagrees", i+1)
			}
			// The Go SDK's verifiers accept it too.
			if err := client.VerifyWebhook(testSecret, sig, h.body); err != nil {
				t.Errorf("attempt %d: client.VerifyWebhook: %v", i+1, err)
			}
			if err := client.VerifyWebhookTimestamp(h.header.Get(client.TimestampHeader), 0, time.Now()); err != nil {
				t.Errorf("attempt %d: client.VerifyWebhookTimestamp: %v", i+1, err)
			}
			if got := h.header.Get("X-AgentGate-Delivery"); got != id {
				t.Errorf("attempt %d has delivery id %s, want %s", i+1, got, id)
			}
			if got := h.header.Get("X-AgentGate-Attempt"); got != strconv.Itoa(i+1) {
				t.Errorf("attempt %d has X-AgentGate-Attempt %s", i+1, got)
			}
			var p struct {
				Event string `json:"event"`
				Data  struct {
					Request wireRequest `json:"request"`
				} `json:"data"`
			}
			_ = json.Unmarshal(h.body, &p)
			if p.Event != "request.created" || p.Data.Request.ID != req.ID || p.Data.Request.Action != "deploy" {
				t.Errorf("attempt %d payload: %s", i+1, h.body)
			}
		}
		if hits[1].at.Sub(hits[0].at) < 40*time.Millisecond {
			t.Errorf("the first retry came %v after the first attempt, before its backoff", hits[1].at.Sub(hits[0].at))
		}

		eventually(t, 10*time.Second, "the delivery to be recorded as a success", func() bool {
			l := deliveries(t, s, wh.ID, "?status=success")
			return len(l.Deliveries) == 1 && l.Deliveries[0].Attempts == 3
		})
		var d delivery
		if st := call(t, s.URL, s.AdminKey, "GET", "/api/webhooks/"+wh.ID+"/deliveries/"+id, nil, &d); st != http.StatusOK {
			t.Fatalf("get delivery: %d", st)
		}
		var codes []int
		for _, a := range d.AttemptLog {
			codes = append(codes, *a.StatusCode)
		}
		if fmt.Sprint(codes) != "[503 503 204]" || d.Status != "success" || d.RequestID == nil || *d.RequestID != req.ID {
			t.Fatalf("delivery log: status %s, codes %v, request %v", d.Status, codes, d.RequestID)
		}
		if body := d.AttemptLog[0].ResponseBody; body == nil || *body != "answer 1" {
			t.Errorf("first attempt's response body %v, want %q", body, "answer 1")
		}
		if len(rc.all()) != 3 {
			t.Errorf("receiver got %d requests after success, want 3", len(rc.all()))
		}
	})
}

// TestRestartResumesRetries stops the server between two attempts and
// starts a new one on the same SQLite file: the pending River job is
// picked up and the event delivered, with the same delivery id.
func TestRestartResumesRetries(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		rc := newReceiver(t, func(n int) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		// Base 700ms: the retry after the 2nd attempt waits 2.8-3.5s, long
		// enough to stop the server in between even on a loaded machine.
		s1 := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(700 * time.Millisecond)})
		wh := createWebhook(t, s1, rc.URL, []string{"*"}, testSecret)
		createRequest(t, s1.URL, s1.AdminKey, "restart.test")
		rc.waitHits(t, 2, 15*time.Second)
		eventually(t, 10*time.Second, "the second attempt to be recorded", func() bool {
			l := deliveries(t, s1, wh.ID, "")
			return len(l.Deliveries) == 1 && l.Deliveries[0].Attempts == 2
		})
		s1.Stop()
		stopped := time.Now()
		if n := len(rc.all()); n != 2 {
			t.Fatalf("receiver got %d requests before the restart, want 2", n)
		}

		s2 := testserver.Start(t, &testserver.Options{DatabaseURL: s1.Config.DatabaseURL, Configure: fastRetries(700 * time.Millisecond)})
		hits := rc.waitHits(t, 3, 20*time.Second)
		if !hits[2].at.After(stopped) {
			t.Fatal("the third attempt came before the restart")
		}
		for _, h := range hits {
			verify(t, testSecret, h)
			if h.header.Get("X-AgentGate-Delivery") != hits[0].header.Get("X-AgentGate-Delivery") {
				t.Fatal("the delivery id changed across the restart")
			}
		}
		eventually(t, 10*time.Second, "the delivery to succeed on the new server", func() bool {
			l := deliveries(t, s2, wh.ID, "")
			return len(l.Deliveries) == 1 && l.Deliveries[0].Status == "success" && l.Deliveries[0].Attempts == 3
		})
	})
}

// TestEventMapping: a decision is request.decided plus request.approved or
// request.denied; subscriptions get only what they name.
func TestEventMapping(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		all := newReceiver(t, nil)
		denied := newReceiver(t, nil)
		s := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(20 * time.Millisecond)})
		createWebhook(t, s, all.URL, []string{"*"}, "")
		createWebhook(t, s, denied.URL, []string{"request.denied"}, "")
		agent := s.CreateKey(t, "agent", auth.ScopeRequestCreate)
		human := s.CreateKey(t, "human", auth.ScopeRequestDecide)

		a := createRequest(t, s.URL, agent, "approve.me")
		b := createRequest(t, s.URL, agent, "deny.me")
		for id, decision := range map[string]string{a.ID: "approved", b.ID: "denied"} {
			if st := call(t, s.URL, human, "POST", "/api/requests/"+id+"/decide", map[string]any{"decision": decision, "reason": "test"}, nil); st != http.StatusOK {
				t.Fatalf("decide: %d", st)
			}
		}
		got := map[string][]string{}
		for _, h := range all.waitHits(t, 6, 15*time.Second) {
			var p struct {
				Event string `json:"event"`
				Data  struct {
					Request wireRequest `json:"request"`
				} `json:"data"`
			}
			_ = json.Unmarshal(h.body, &p)
			got[p.Data.Request.ID] = append(got[p.Data.Request.ID], p.Event)
		}
		want := map[string]string{
			a.ID: "[request.approved request.created request.decided]",
			b.ID: "[request.created request.decided request.denied]",
		}
		for id, w := range want {
			ev := got[id]
			sortStrings(ev)
			if fmt.Sprint(ev) != w {
				t.Errorf("request %s: events %v, want %s", id, ev, w)
			}
		}
		hits := denied.waitHits(t, 1, 10*time.Second)
		if len(hits) != 1 || hits[0].header.Get("X-AgentGate-Event") != "request.denied" {
			t.Fatalf("the request.denied subscriber got %d requests, first %q", len(hits), hits[0].header.Get("X-AgentGate-Event"))
		}
	})
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

// TestDisableAndDeleteStopPending: disabling or deleting a webhook cancels
// its pending deliveries, records why, and nothing more is sent.
func TestDisableAndDeleteStopPending(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method string
		body         any
		reason       string
	}{
		{"disable", "PATCH", map[string]any{"enabled": false}, "webhook disabled"},
		{"delete", "DELETE", nil, "webhook deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onBothDatabases(t, func(t *testing.T, dbURL string) {
				rc := newReceiver(t, func(int) int { return http.StatusBadGateway })
				// Base 1s: the first retry waits 2-2.5s, time enough to
				// disable or delete the webhook before it.
				s := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(time.Second)})
				wh := createWebhook(t, s, rc.URL, []string{"request.created"}, "")
				createRequest(t, s.URL, s.AdminKey, "stop.me")
				rc.waitHits(t, 1, 10*time.Second)
				eventually(t, 10*time.Second, "the first attempt to be recorded", func() bool {
					l := deliveries(t, s, wh.ID, "") // a delivery is listed once its first attempt is recorded
					return len(l.Deliveries) == 1 && l.Deliveries[0].Attempts == 1
				})
				if st := call(t, s.URL, s.AdminKey, tc.method, "/api/webhooks/"+wh.ID, tc.body, nil); st != http.StatusOK {
					t.Fatalf("%s: %d", tc.method, st)
				}
				// The delivery log outlives a deleted webhook; read it from the store.
				ds, _, err := s.App.Store.DeliveryList(context.Background(), webhook.DeliveryFilter{WebhookID: wh.ID, Limit: 10})
				if err != nil || len(ds) != 1 {
					t.Fatalf("deliveries: %v, %d", err, len(ds))
				}
				if ds[0].Status != webhook.StatusCanceled || ds[0].LastError != tc.reason {
					t.Fatalf("delivery status %q, last error %q; want canceled, %q", ds[0].Status, ds[0].LastError, tc.reason)
				}
				// Wait until River has finished the job (its retry found the
				// delivery canceled), then check nothing more was sent.
				eventually(t, 10*time.Second, "the delivery job to finish", func() bool {
					var n int
					err := s.App.Store.DB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = 'agentgate.webhook_delivery'
						AND state IN ('completed', 'cancelled', 'discarded')`).Scan(&n)
					return err == nil && n == 1
				})
				if n := len(rc.all()); n != 1 {
					t.Fatalf("receiver got %d requests, want 1 (no attempt after %s)", n, tc.name)
				}
			})
		})
	}
}

// TestPermanentFailureAndReplay: a 410 fails the delivery at once (no
// retries); a replay sends it again with the same id once the receiver
// is fixed.
func TestPermanentFailureAndReplay(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		release := make(chan struct{})
		var releaseOnce sync.Once
		free := func() { releaseOnce.Do(func() { close(release) }) }
		rc := newReceiver(t, func(n int) int {
			if n == 1 {
				return http.StatusGone
			}
			<-release // the replay stays pending until the test has tried a second one
			return http.StatusOK
		})
		t.Cleanup(free) // cleanups run last-in first-out: this frees the handler before the receiver closes
		s := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(20 * time.Millisecond)})
		wh := createWebhook(t, s, rc.URL, []string{"request.created"}, testSecret)
		createRequest(t, s.URL, s.AdminKey, "gone")
		rc.waitHits(t, 1, 10*time.Second)
		var failed delivery
		eventually(t, 10*time.Second, "the delivery to fail", func() bool {
			l := deliveries(t, s, wh.ID, "?status=failed")
			if len(l.Deliveries) == 1 {
				failed = l.Deliveries[0]
			}
			return len(l.Deliveries) == 1
		})
		if failed.Attempts != 1 || failed.LastStatusCode == nil || *failed.LastStatusCode != 410 {
			t.Fatalf("failed delivery: %+v", failed)
		}
		var replay struct {
			Delivery delivery `json:"delivery"`
		}
		if st := call(t, s.URL, s.AdminKey, "POST", "/api/webhooks/deliveries/"+failed.ID+"/replay", nil, &replay); st != http.StatusAccepted {
			t.Fatalf("replay: %d", st)
		}
		if replay.Delivery.Status != "pending" {
			t.Fatalf("replayed delivery status %q", replay.Delivery.Status)
		}
		// A second replay while pending is a conflict.
		st := call(t, s.URL, s.AdminKey, "POST", "/api/webhooks/deliveries/"+failed.ID+"/replay", nil, nil)
		free()
		if st != http.StatusConflict {
			t.Errorf("replay of a pending delivery: %d, want 409", st)
		}
		hits := rc.waitHits(t, 2, 10*time.Second)
		if hits[1].header.Get("X-AgentGate-Delivery") != failed.ID || hits[1].header.Get("X-AgentGate-Attempt") != "2" {
			t.Fatalf("replay sent delivery %s attempt %s", hits[1].header.Get("X-AgentGate-Delivery"), hits[1].header.Get("X-AgentGate-Attempt"))
		}
		verify(t, testSecret, hits[1])
		eventually(t, 10*time.Second, "the replay to succeed", func() bool {
			l := deliveries(t, s, wh.ID, "?status=success")
			return len(l.Deliveries) == 1 && l.Deliveries[0].Attempts == 2
		})
		if st := call(t, s.URL, s.AdminKey, "POST", "/api/webhooks/deliveries/dlv_nope/replay", nil, nil); st != http.StatusNotFound {
			t.Errorf("replay of a missing delivery: %d, want 404", st)
		}
	})
}

// TestWebhookAPI covers validation, scopes and the secret's visibility.
func TestWebhookAPI(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		rc := newReceiver(t, nil)
		s := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(20 * time.Millisecond)})
		reader := s.CreateKey(t, "reader", auth.ScopeRequestRead)
		manager := s.CreateKey(t, "manager", auth.ScopeWebhookManage)

		bad := []struct {
			name string
			body any
			want string
		}{
			{"unknown event", map[string]any{"url": rc.URL, "events": []string{"request.exploded"}}, "unknown event"},
			{"no events", map[string]any{"url": rc.URL, "events": []string{}}, "at least one event"},
			{"events missing", map[string]any{"url": rc.URL}, "events is required"},
			{"events not a list", map[string]any{"url": rc.URL, "events": "request.created"}, "list of event names"},
			{"url missing", map[string]any{"events": []string{"*"}}, "url is required"},
			{"metadata url", map[string]any{"url": "http://169.254.169.254/latest", "events": []string{"*"}}, "Invalid webhook URL: destination 169.254.169.254 is not allowed (cloud metadata service)"},
			{"scheme", map[string]any{"url": "ftp://example.com/", "events": []string{"*"}}, "scheme must be http or https"},
			{"short secret", map[string]any{"url": rc.URL, "events": []string{"*"}, "secret": "short"}, "secret must be between"},
			{"unknown field", map[string]any{"url": rc.URL, "events": []string{"*"}, "sekret": "x"}, "unknown field"},
		}
		for _, tc := range bad {
			var out struct {
				Error string `json:"error"`
			}
			st := call(t, s.URL, manager, "POST", "/api/webhooks", tc.body, &out)
			if st != http.StatusBadRequest || !strings.Contains(out.Error, tc.want) {
				t.Errorf("%s: status %d, error %q; want 400 with %q", tc.name, st, out.Error, tc.want)
			}
		}
		if st := call(t, s.URL, reader, "GET", "/api/webhooks", nil, nil); st != http.StatusForbidden {
			t.Errorf("GET /api/webhooks with request:read: %d, want 403", st)
		}

		var created createdWebhook
		if st := call(t, s.URL, manager, "POST", "/api/webhooks", map[string]any{"url": rc.URL, "events": []string{"request.created", "request.escalated"}}, &created); st != http.StatusCreated {
			t.Fatalf("create: %d", st)
		}
		if !strings.HasPrefix(created.Secret, "whsec_") || len(created.Secret) != len("whsec_")+43 {
			t.Fatalf("generated secret %q", created.Secret)
		}
		for _, path := range []string{"/api/webhooks", "/api/webhooks/" + created.ID} {
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+manager)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || bytes.Contains(raw, []byte(created.Secret)) || bytes.Contains(raw, []byte(`"secret"`)) {
				t.Errorf("GET %s: status %d, body shows a secret: %s", path, resp.StatusCode, raw)
			}
		}
		// Rotation shows the new secret once; a test delivery is signed with it.
		var rotated createdWebhook
		if st := call(t, s.URL, manager, "PATCH", "/api/webhooks/"+created.ID, map[string]any{"rotateSecret": true}, &rotated); st != http.StatusOK || rotated.Secret == "" || rotated.Secret == created.Secret {
			t.Fatalf("rotate: %d, secret %q", st, rotated.Secret)
		}
		var test struct {
			Success    bool `json:"success"`
			StatusCode int  `json:"statusCode"`
			Delivery   struct {
				Event  string `json:"event"`
				Status string `json:"status"`
			} `json:"delivery"`
		}
		if st := call(t, s.URL, manager, "POST", "/api/webhooks/"+created.ID+"/test", nil, &test); st != http.StatusOK || !test.Success || test.StatusCode != 200 {
			t.Fatalf("test: %d %+v", st, test)
		}
		if test.Delivery.Event != "webhook.test" || test.Delivery.Status != "success" {
			t.Errorf("test delivery %+v", test.Delivery)
		}
		verify(t, rotated.Secret, rc.all()[len(rc.all())-1])

		if st := call(t, s.URL, manager, "PATCH", "/api/webhooks/"+created.ID, map[string]any{"url": "http://[::ffff:169.254.169.254]/"}, nil); st != http.StatusBadRequest {
			t.Errorf("PATCH to a metadata URL: %d, want 400", st)
		}
		if st := call(t, s.URL, manager, "GET", "/api/webhooks/"+created.ID+"/deliveries?status=bogus", nil, nil); st != http.StatusBadRequest {
			t.Errorf("unknown status filter: %d, want 400", st)
		}
		var page deliveryList
		if st := call(t, s.URL, manager, "GET", "/api/webhooks/"+created.ID+"/deliveries?limit=1&offset=0", nil, &page); st != http.StatusOK || page.Pagination.Total != 1 || len(page.Deliveries) != 1 {
			t.Errorf("deliveries page: %d, %+v", st, page)
		}
		if st := call(t, s.URL, manager, "DELETE", "/api/webhooks/"+created.ID, nil, nil); st != http.StatusOK {
			t.Fatalf("delete: %d", st)
		}
		for _, m := range []string{"GET", "DELETE"} {
			if st := call(t, s.URL, manager, m, "/api/webhooks/"+created.ID, nil, nil); st != http.StatusNotFound {
				t.Errorf("%s of a deleted webhook: %d, want 404", m, st)
			}
		}
	})
}

// TestEncryptedSecrets: with AGENTGATE_ENCRYPTION_KEY set, secrets are
// sealed at rest; a secret stored before the key was set is sealed at the
// next start and keeps signing deliveries.
func TestEncryptedSecrets(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		rc := newReceiver(t, nil)
		s1 := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(20 * time.Millisecond)})
		old := createWebhook(t, s1, rc.URL, []string{"request.created"}, testSecret)
		if w, err := s1.App.Store.WebhookGetByID(context.Background(), old.ID); err != nil || w.Secret != testSecret {
			t.Fatalf("without a key the secret is stored as is: %v", err)
		}
		s1.Stop()

		key := strings.Repeat("ab", 32)
		withKey := func(c *config.Config) { fastRetries(20 * time.Millisecond)(c); c.EncryptionKey = key }
		s2 := testserver.Start(t, &testserver.Options{DatabaseURL: s1.Config.DatabaseURL, Configure: withKey})
		w, err := s2.App.Store.WebhookGetByID(context.Background(), old.ID)
		if err != nil || !webhook.IsSealed(w.Secret) || strings.Contains(w.Secret, testSecret) {
			t.Fatalf("the old secret was not sealed at start: %q, %v", w.Secret, err)
		}
		rc2 := newReceiver(t, nil)
		fresh := createWebhook(t, s2, rc2.URL, []string{"request.created"}, "")
		if w, _ := s2.App.Store.WebhookGetByID(context.Background(), fresh.ID); !webhook.IsSealed(w.Secret) {
			t.Fatal("a new secret is stored unsealed")
		}
		createRequest(t, s2.URL, s2.AdminKey, "sealed")
		verify(t, testSecret, rc.waitHits(t, 1, 10*time.Second)[0])
		verify(t, fresh.Secret, rc2.waitHits(t, 1, 10*time.Second)[0])
	})
}

type failingHook struct{}

func (failingHook) OnEvents(context.Context, approval.Tx, []approval.Event) error {
	return errors.New("a later hook fails")
}

// TestDeliveriesFollowCommits: the audit trail is the outbox. A change
// that rolls back (here: a later hook fails) leaves no event, so nothing
// is ever delivered for it; a change that commits gets exactly one batch
// job per matching subscription once the sealer has run (sealing again
// adds none), and the jobs make exactly one delivery per subscription.
func TestDeliveriesFollowCommits(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		rc := newReceiver(t, nil)
		s := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(20 * time.Millisecond)})
		createWebhook(t, s, rc.URL, []string{"*"}, "")
		createWebhook(t, s, rc.URL, []string{"request.created"}, "")
		createWebhook(t, s, rc.URL, []string{"request.denied"}, "") // wants nothing a creation raises: no job
		agent := approval.Actor{ID: "agent-1", Name: "agent", Type: approval.ActorAgent}
		ctx := context.Background()
		count := func() (deliveries, batches, retries, requests int) {
			db := s.App.Store.DB()
			for _, q := range []struct {
				sql string
				n   *int
			}{
				{`SELECT COUNT(*) FROM webhook_deliveries`, &deliveries},
				{`SELECT COUNT(*) FROM river_job WHERE kind = 'agentgate.webhook_batch'`, &batches},
				{`SELECT COUNT(*) FROM river_job WHERE kind = 'agentgate.webhook_delivery'`, &retries},
				{`SELECT COUNT(*) FROM requests`, &requests},
			} {
				if err := db.QueryRow(q.sql).Scan(q.n); err != nil {
					t.Fatal(err)
				}
			}
			return
		}
		seal := func() {
			for {
				n, err := s.App.Approvals.SealAudit(ctx, 100)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					return
				}
			}
		}

		failing := approval.NewService(s.App.Store, approval.Config{}, approval.Options{Hooks: []approval.TxHook{failingHook{}}})
		if _, _, err := failing.Create(ctx, agent, approval.CreateInput{Action: "rolled.back"}); err == nil {
			t.Fatal("Create succeeded although a hook failed")
		}
		seal()
		if d, b, j, r := count(); d != 0 || b != 0 || j != 0 || r != 0 {
			t.Fatalf("after a rollback: %d deliveries, %d batch jobs, %d retry jobs, %d requests; want none", d, b, j, r)
		}

		ok := approval.NewService(s.App.Store, approval.Config{}, approval.Options{})
		if _, _, err := ok.Create(ctx, agent, approval.CreateInput{Action: "committed"}); err != nil {
			t.Fatal(err)
		}
		seal()
		seal()
		if _, b, _, r := count(); b != 2 || r != 1 {
			t.Fatalf("after a commit and two seals: %d batch jobs, %d requests; want 2, 1", b, r)
		}
		rc.waitHits(t, 2, 10*time.Second)
		eventually(t, 10*time.Second, "both deliveries to be recorded", func() bool {
			d, _, _, _ := count()
			return d == 2
		})
		seal()
		if d, b, j, _ := count(); d != 2 || b != 2 || j != 0 || len(rc.all()) != 2 {
			t.Fatalf("at the end: %d deliveries, %d batch jobs, %d retry jobs, %d POSTs; want 2, 2, 0, 2", d, b, j, len(rc.all()))
		}
	})
}

// TestTwoServersPostgresExactlyOnce runs two server processes on one
// PostgreSQL schema and creates 500 requests through both: each of the
// two subscribers receives every event exactly once.
func TestTwoServersPostgresExactlyOnce(t *testing.T) {
	t.Parallel()
	dbURL := testserver.PostgresURL(t)
	const events = 500
	rcs := []*receiver{newReceiver(t, nil), newReceiver(t, nil)}
	s1 := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(20 * time.Millisecond)})
	s2 := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(20 * time.Millisecond)})
	var whs []createdWebhook
	for _, rc := range rcs {
		whs = append(whs, createWebhook(t, s1, rc.URL, []string{"request.created"}, ""))
	}
	servers := []*testserver.Server{s1, s2}
	keys := []string{s1.CreateKey(t, "agent1", auth.ScopeRequestCreate), s2.CreateKey(t, "agent2", auth.ScopeRequestCreate)}

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created = map[string]bool{}
		next    = make(chan int)
	)
	for w := range 8 {
		wg.Go(func() {
			for i := range next {
				srv := servers[(i+w)%2]
				r := createRequest(t, srv.URL, keys[(i+w)%2], "bulk."+strconv.Itoa(i))
				mu.Lock()
				created[r.ID] = true
				mu.Unlock()
			}
		})
	}
	for i := range events {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(created) != events {
		t.Fatalf("created %d requests, want %d", len(created), events)
	}
	for i, rc := range rcs {
		rc.waitHits(t, events, 60*time.Second)
		eventually(t, 30*time.Second, "every delivery to be recorded", func() bool {
			return deliveries(t, s2, whs[i].ID, "?status=success&limit=1").Pagination.Total == events
		})
	}
	for i, rc := range rcs {
		byDelivery, byRequest := map[string]int{}, map[string]int{}
		for _, h := range rc.all() {
			var p struct {
				ID   string `json:"id"`
				Data struct {
					Request wireRequest `json:"request"`
				} `json:"data"`
			}
			if err := json.Unmarshal(h.body, &p); err != nil {
				t.Fatal(err)
			}
			byDelivery[p.ID]++
			byRequest[p.Data.Request.ID]++
		}
		if len(rc.all()) != events || len(byDelivery) != events || len(byRequest) != events {
			t.Errorf("subscriber %d: %d requests, %d delivery ids, %d request ids; want %d of each", i, len(rc.all()), len(byDelivery), len(byRequest), events)
		}
		for id, n := range byRequest {
			if n != 1 || !created[id] {
				t.Errorf("subscriber %d got request %s %d times (created here: %v)", i, id, n, created[id])
			}
		}
	}
	// River marks jobs completed asynchronously, after the deliveries are
	// recorded; once all are, none may have needed a second run. Each
	// subscriber's batch jobs cover the sealed events without a gap or an
	// overlap, and no delivery needed a retry job.
	db := s1.App.Store.DB()
	eventually(t, 30*time.Second, "River to complete every batch job", func() bool {
		var n int
		err := db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = 'agentgate.webhook_batch' AND state <> 'completed'`).Scan(&n)
		return err == nil && n == 0
	})
	var batches, again, retries int
	if err := db.QueryRow(`SELECT COUNT(*), COUNT(*) FILTER (WHERE attempt <> 1) FROM river_job WHERE kind = 'agentgate.webhook_batch'`).Scan(&batches, &again); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = 'agentgate.webhook_delivery'`).Scan(&retries); err != nil {
		t.Fatal(err)
	}
	if batches == 0 || batches > 2*events || again != 0 || retries != 0 {
		t.Errorf("%d batch jobs (want 1 to %d), %d of them worked more than once, %d retry jobs (want 0)", batches, 2*events, again, retries)
	}
	rows, err := db.Query(`SELECT args FROM river_job WHERE kind = 'agentgate.webhook_batch'`)
	if err != nil {
		t.Fatal(err)
	}
	byWebhook := map[string][]webhook.BatchArgs{}
	for rows.Next() {
		var raw []byte
		var a webhook.BatchArgs
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		byWebhook[a.WebhookID] = append(byWebhook[a.WebhookID], a)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	for _, wh := range whs {
		if covered := batchCoverage(t, db, byWebhook[wh.ID]); covered != events {
			t.Errorf("webhook %s: its batch jobs cover %d created events, want %d", wh.ID, covered, events)
		}
	}
	t.Logf("%d batch jobs for %d deliveries", batches, 2*events)
	rows, err = s1.App.Store.DB().Query(`SELECT attempted_by[1], COUNT(*) FROM river_job WHERE kind = 'agentgate.webhook_batch' GROUP BY 1 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var worker string
		var n int
		if err := rows.Scan(&worker, &n); err != nil {
			t.Fatal(err)
		}
		t.Logf("River client %s worked %d batches", worker, n)
	}
}

// docVerify is the standard-library verifier printed in docs/webhooks.md,
// kept here so that the documented code compiles and is exercised.
func docVerify(secret, sigHeader string, body []byte, now time.Time) bool {
	hexSig, ok := strings.CutPrefix(sigHeader, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return false
	}
	var p struct {
		Timestamp time.Time `json:"timestamp"`
	}
	if json.Unmarshal(body, &p) != nil {
		return false
	}
	return now.Sub(p.Timestamp).Abs() <= 5*time.Minute
}

// TestEscalatedEvent: an escalation step of the request's rule raises
// request.escalated, delivered to its subscribers.
func TestEscalatedEvent(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		rc := newReceiver(t, nil)
		s := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: fastRetries(20 * time.Millisecond)})
		createWebhook(t, s, rc.URL, []string{"request.escalated"}, testSecret)
		policy := map[string]any{"name": "escalating", "rules": []any{map[string]any{
			"match": map[string]any{"action": "escalate.me"}, "decision": "route_to_human",
			"escalate": []any{map[string]any{"after": "300ms", "to": []string{"slack:#oncall"}}},
		}}}
		var out struct {
			Error string `json:"error"`
		}
		if st := call(t, s.URL, s.AdminKey, "POST", "/api/policies", policy, &out); st != http.StatusCreated {
			t.Fatalf("create policy: %d %s", st, out.Error)
		}
		req := createRequest(t, s.URL, s.AdminKey, "escalate.me")
		createRequest(t, s.URL, s.AdminKey, "not.escalated")
		h := rc.waitHits(t, 1, 15*time.Second)[0]
		verify(t, testSecret, h)
		var p struct {
			Event string `json:"event"`
			Data  struct {
				Request wireRequest `json:"request"`
			} `json:"data"`
		}
		if err := json.Unmarshal(h.body, &p); err != nil || p.Event != "request.escalated" || p.Data.Request.ID != req.ID {
			t.Fatalf("delivery %s: %v", h.body, err)
		}
	})
}

// TestAttemptsSpanBatchAndRetries: the batch job's attempt is the first of
// AGENTGATE_WEBHOOK_MAX_ATTEMPTS; the retry job makes the rest, numbered
// on, under the same id, and then the delivery fails. With one attempt
// there is no retry job at all.
func TestAttemptsSpanBatchAndRetries(t *testing.T) {
	t.Parallel()
	for _, maxAttempts := range []int{1, 3} {
		t.Run(fmt.Sprintf("max=%d", maxAttempts), func(t *testing.T) {
			t.Parallel()
			onBothDatabases(t, func(t *testing.T, dbURL string) {
				rc := newReceiver(t, func(int) int { return http.StatusServiceUnavailable })
				s := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: func(c *config.Config) {
					fastRetries(10 * time.Millisecond)(c)
					c.WebhookMaxAttempts = maxAttempts
				}})
				wh := createWebhook(t, s, rc.URL, []string{"request.created"}, testSecret)
				createRequest(t, s.URL, s.AdminKey, "always.failing")
				hits := rc.waitHits(t, maxAttempts, 15*time.Second)
				for i, h := range hits {
					verify(t, testSecret, h)
					if got := h.header.Get(webhook.HeaderAttempt); got != strconv.Itoa(i+1) {
						t.Errorf("POST %d has attempt %s", i+1, got)
					}
					if h.header.Get(webhook.HeaderDelivery) != hits[0].header.Get(webhook.HeaderDelivery) {
						t.Errorf("POST %d has another delivery id", i+1)
					}
				}
				eventually(t, 10*time.Second, "the delivery to fail", func() bool {
					l := deliveries(t, s, wh.ID, "?status=failed")
					return len(l.Deliveries) == 1 && l.Deliveries[0].Attempts == maxAttempts
				})
				db := s.App.Store.DB()
				eventually(t, 10*time.Second, "every webhook job to end", func() bool {
					var n int
					err := db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE queue = 'webhook'
						AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&n)
					return err == nil && n == 0
				})
				var retries int
				if err := db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = 'agentgate.webhook_delivery'`).Scan(&retries); err != nil {
					t.Fatal(err)
				}
				if want := min(maxAttempts-1, 1); retries != want {
					t.Errorf("%d retry jobs, want %d", retries, want)
				}
				if n := len(rc.all()); n != maxAttempts {
					t.Errorf("receiver got %d POSTs, want %d", n, maxAttempts)
				}
			})
		})
	}
}
