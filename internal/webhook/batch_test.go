package webhook_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/webhook"
)

// These tests play River's part: a stack whose runner is not started,
// sealing by hand and running batch jobs with DeliverBatch, so that a job
// can be run twice or cut off at a chosen point.

// onBothStacks runs fn on a fresh benchStack with no subscriber, on SQLite
// and (when AGENTGATE_TEST_POSTGRES_URL is set) on PostgreSQL.
func onBothStacks(t *testing.T, fn func(t *testing.T, s *benchStack)) {
	onBothDatabases(t, func(t *testing.T, dbURL string) { fn(t, newBenchStack(t, dbURL, "", 0)) })
}

func (s *benchStack) webhook(t testing.TB, url string, events ...string) *webhook.Webhook {
	t.Helper()
	w, _, err := s.webhooks.Create(context.Background(), approval.Actor{Name: "test"}, webhook.Input{URL: url, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (s *benchStack) create(t testing.TB, action string) *approval.Request {
	t.Helper()
	r, _, err := s.approvals.Create(context.Background(), benchAgent, approval.CreateInput{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sealAll seals every event in one transaction and returns how many.
func (s *benchStack) sealAll(t testing.TB) int {
	t.Helper()
	n, err := s.approvals.SealAudit(context.Background(), approval.SealBatch)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// batches returns the batch jobs, oldest first.
func (s *benchStack) batches(t testing.TB) []webhook.BatchArgs {
	t.Helper()
	args := "args"
	if s.st.Dialect() == store.SQLite {
		args = "json(args)" // River keeps SQLite's binary JSONB
	}
	rows, err := s.st.DB().Query(`SELECT ` + args + ` FROM river_job WHERE kind = 'agentgate.webhook_batch' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []webhook.BatchArgs
	for rows.Next() {
		var raw []byte
		var a webhook.BatchArgs
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func (s *benchStack) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.st.DB().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (s *benchStack) deliveries(t testing.TB, webhookID string) []*webhook.Delivery {
	t.Helper()
	ds, _, err := s.st.DeliveryList(context.Background(), webhook.DeliveryFilter{WebhookID: webhookID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// auditIDs maps each request to the ids of its audit events by type.
func (s *benchStack) auditIDs(t testing.TB, requestID string) map[string]int64 {
	t.Helper()
	evs, err := s.st.AuditListByRequest(context.Background(), requestID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range evs {
		out[e.EventType] = e.ID
	}
	return out
}

type sent struct {
	ID      string
	Event   string
	Request struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
}

func parseHit(t testing.TB, h hit) sent {
	t.Helper()
	var p struct {
		ID    string `json:"id"`
		Event string `json:"event"`
		Data  struct {
			Request struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"request"`
		} `json:"data"`
	}
	if err := json.Unmarshal(h.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != h.header.Get(webhook.HeaderDelivery) {
		t.Fatalf("body id %s, header %s", p.ID, h.header.Get(webhook.HeaderDelivery))
	}
	out := sent{ID: p.ID, Event: p.Event}
	out.Request.ID, out.Request.Status = p.Data.Request.ID, p.Data.Request.Status
	return out
}

// TestOneBatchJobPerWebhookPerSeal: one seal of many events enqueues one
// job per webhook that wants any of them (none for a webhook that wants
// none, none for a disabled one) and writes no delivery; the jobs then
// deliver every event once, with derived ids and each payload as of its
// event, keep to the subscription as it was at the seal, and running a
// job again sends nothing.
func TestOneBatchJobPerWebhookPerSeal(t *testing.T) {
	t.Parallel()
	onBothStacks(t, func(t *testing.T, s *benchStack) {
		rc := newReceiver(t, nil)
		ctx := context.Background()
		all := s.webhook(t, rc.URL+"/all", "*")
		created := s.webhook(t, rc.URL+"/created", "request.created")
		s.webhook(t, rc.URL+"/denied", "request.denied")
		off := s.webhook(t, rc.URL+"/off", "*")
		if _, _, err := s.webhooks.Update(ctx, off.ID, webhook.Patch{Enabled: new(false)}); err != nil {
			t.Fatal(err)
		}
		const n = 20
		var reqs []*approval.Request
		for i := range n {
			reqs = append(reqs, s.create(t, "batch."+strconv.Itoa(i)))
		}
		// Decided before the seal: its request.created delivery must still
		// show it pending.
		human := approval.Actor{ID: "human-1", Name: "alice", Type: approval.ActorHuman}
		if _, err := s.approvals.Decide(ctx, human, reqs[0].ID, approval.DecideInput{Decision: approval.StatusApproved}); err != nil {
			t.Fatal(err)
		}
		if got := s.sealAll(t); got != n+1 {
			t.Fatalf("sealed %d events, want %d", got, n+1)
		}
		bs := s.batches(t)
		if len(bs) != 2 || bs[0].WebhookID != all.ID || bs[1].WebhookID != created.ID {
			t.Fatalf("batch jobs %+v; want one for %s and one for %s", bs, all.ID, created.ID)
		}
		if bs[0].ToSeq-bs[0].FromSeq != n || bs[1].ToSeq-bs[1].FromSeq != n-1 {
			t.Errorf("batch ranges %+v: want %d events for *, %d for request.created", bs, n+1, n)
		}
		if d := s.count(t, `SELECT COUNT(*) FROM webhook_deliveries`); d != 0 {
			t.Fatalf("sealing wrote %d deliveries, want 0", d)
		}
		// Widening the subscription after the seal changes nothing for
		// the sealed events.
		if _, _, err := s.webhooks.Update(ctx, created.ID, webhook.Patch{Events: []string{"*"}}); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second run of each job finds everything recorded
			for _, b := range bs {
				if err := s.webhooks.DeliverBatch(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(rc.all()); got != 2*n+2 {
				t.Fatalf("receiver got %d POSTs, want %d", got, 2*n+2)
			}
		}
		ids := map[string]bool{}
		for _, h := range rc.all() {
			p := parseHit(t, h)
			ids[p.ID] = true
			want := "pending"
			if p.Event == "request.decided" || p.Event == "request.approved" {
				want = "approved"
			}
			if p.Request.Status != want {
				t.Errorf("%s of %s shows status %s, want %s", p.Event, p.Request.ID, p.Request.Status, want)
			}
		}
		if len(ids) != 2*n+2 {
			t.Errorf("%d distinct delivery ids, want %d", len(ids), 2*n+2)
		}
		ev := s.auditIDs(t, reqs[0].ID)
		for _, c := range []struct {
			webhookID, event, audit string
		}{
			{all.ID, "request.created", approval.EventCreated},
			{all.ID, "request.decided", approval.EventApproved},
			{all.ID, "request.approved", approval.EventApproved},
			{created.ID, "request.created", approval.EventCreated},
		} {
			if id := webhook.DeliveryID(c.webhookID, ev[c.audit], c.event); !ids[id] {
				t.Errorf("no delivery %s (%s of %s to %s)", id, c.event, reqs[0].ID, c.webhookID)
			}
		}
		for _, w := range []*webhook.Webhook{all, created} {
			for _, d := range s.deliveries(t, w.ID) {
				if d.Status != webhook.StatusSuccess || d.Attempts != 1 || d.CompletedAt.IsZero() || d.LastStatusCode != 200 {
					t.Errorf("delivery %+v; want a success after one attempt", d)
				}
				if w == created && d.Event != webhook.EventRequestCreated {
					t.Errorf("the request.created subscriber got %s", d.Event)
				}
			}
		}
		if a := s.count(t, `SELECT COUNT(*) FROM webhook_attempts`); a != 2*n+2 {
			t.Errorf("%d attempts recorded, want %d", a, 2*n+2)
		}
		if j := s.count(t, `SELECT COUNT(*) FROM river_job WHERE kind = 'agentgate.webhook_delivery'`); j != 0 {
			t.Errorf("%d retry jobs after successes, want 0", j)
		}
	})
}

// TestBatchRerunAfterCrash: a batch job that River runs again after its
// process died between sending and recording sends only what is not
// recorded, under the same delivery ids and with the same data.
func TestBatchRerunAfterCrash(t *testing.T) {
	t.Parallel()
	onBothStacks(t, func(t *testing.T, s *benchStack) {
		rc := newReceiver(t, nil)
		ctx := context.Background()
		w := s.webhook(t, rc.URL, "request.created")
		for i := range 5 {
			s.create(t, "crash."+strconv.Itoa(i))
		}
		s.sealAll(t)
		bs := s.batches(t)
		if len(bs) != 1 {
			t.Fatalf("%d batch jobs, want 1", len(bs))
		}
		if err := s.webhooks.DeliverBatch(ctx, bs[0]); err != nil {
			t.Fatal(err)
		}
		first := rc.all()
		if len(first) != 5 {
			t.Fatalf("receiver got %d, want 5", len(first))
		}
		// Forget two answers, as if the process died before recording them.
		lost := map[string]json.RawMessage{}
		for _, d := range s.deliveries(t, w.ID)[:2] {
			lost[d.ID] = d.Data
			for _, q := range []string{`DELETE FROM webhook_attempts WHERE delivery_id = $1`, `DELETE FROM webhook_deliveries WHERE id = $1`} {
				if _, err := s.st.DB().Exec(q, d.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.webhooks.DeliverBatch(ctx, bs[0]); err != nil {
			t.Fatal(err)
		}
		again := rc.all()[5:]
		if len(again) != 2 {
			t.Fatalf("the rerun sent %d, want the 2 unrecorded ones", len(again))
		}
		for _, h := range again {
			p := parseHit(t, h)
			if _, ok := lost[p.ID]; !ok {
				t.Errorf("the rerun sent %s, which was recorded or is new", p.ID)
			}
		}
		ds := s.deliveries(t, w.ID)
		if len(ds) != 5 {
			t.Fatalf("%d deliveries after the rerun, want 5", len(ds))
		}
		for _, d := range ds {
			if data, ok := lost[d.ID]; ok && string(data) != string(d.Data) {
				t.Errorf("delivery %s: data %s after the rerun, %s before", d.ID, d.Data, data)
			}
		}
	})
}

// TestBatchInterrupted: a batch job cut off (shutdown, or its time ran
// out) records the answers it got, fails so that River runs it again, and
// the next run sends only the unanswered delivery, with the same id.
func TestBatchInterrupted(t *testing.T) {
	t.Parallel()
	onBothStacks(t, func(t *testing.T, s *benchStack) {
		var answer atomic.Bool
		rc := newHangingReceiver(t, nil, func(body []byte) bool {
			return !answer.Load() && strings.Contains(string(body), `"action":"slow"`)
		})
		w := s.webhook(t, rc.URL, "request.created")
		s.create(t, "fast.1")
		slow := s.create(t, "slow")
		s.create(t, "fast.2")
		s.sealAll(t)
		bs := s.batches(t)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for deadline := time.Now().Add(10 * time.Second); len(rc.all()) < 3 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			// The fast ones are answered at once; give their answers a
			// moment to arrive, then cut the job off.
			time.Sleep(300 * time.Millisecond)
			cancel()
		}()
		if err := s.webhooks.DeliverBatch(ctx, bs[0]); err == nil {
			t.Fatal("an interrupted batch reported success")
		}
		recorded := map[string]bool{}
		for _, d := range s.deliveries(t, w.ID) {
			if d.RequestID == slow.ID {
				t.Fatal("the unanswered delivery was recorded")
			}
			recorded[d.ID] = true
		}
		if len(recorded) < 2 {
			// Possible on a very loaded machine (a fast answer arrived after
			// the cut); the rest of the test still holds.
			t.Logf("only %d of the 2 answered deliveries were recorded before the cut", len(recorded))
		}
		answer.Store(true)
		if err := s.webhooks.DeliverBatch(context.Background(), bs[0]); err != nil {
			t.Fatal(err)
		}
		hs := rc.all()
		if want := 3 + 3 - len(recorded); len(hs) != want {
			t.Fatalf("receiver got %d POSTs, want %d (the unrecorded ones twice)", len(hs), want)
		}
		var slowIDs []string
		for _, h := range hs[3:] {
			if p := parseHit(t, h); recorded[p.ID] {
				t.Errorf("the rerun sent %s again although it was recorded", p.ID)
			}
		}
		for _, h := range hs {
			if p := parseHit(t, h); p.Request.ID == slow.ID {
				slowIDs = append(slowIDs, p.ID)
			}
		}
		if len(slowIDs) != 2 || slowIDs[0] != slowIDs[1] {
			t.Errorf("the slow delivery was sent as %v; want twice with one id", slowIDs)
		}
		if ds := s.deliveries(t, w.ID); len(ds) != 3 {
			t.Errorf("%d deliveries at the end, want 3", len(ds))
		}
	})
}

// TestBatchForInactiveWebhook: a webhook disabled or deleted between the
// seal and its batch job gets nothing; the deliveries are recorded
// canceled with the reason and their data, and once the webhook is
// enabled again one can be replayed under its id.
func TestBatchForInactiveWebhook(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, reason string
		stop         func(s *benchStack, id string) error
	}{
		{"disable", "webhook disabled", func(s *benchStack, id string) error {
			_, _, err := s.webhooks.Update(context.Background(), id, webhook.Patch{Enabled: new(false)})
			return err
		}},
		{"delete", "webhook deleted", func(s *benchStack, id string) error {
			return s.webhooks.Delete(context.Background(), id)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onBothStacks(t, func(t *testing.T, s *benchStack) {
				ctx := context.Background()
				rc := newReceiver(t, nil)
				w := s.webhook(t, rc.URL, "request.created")
				r := s.create(t, "inactive")
				s.create(t, "inactive.too")
				s.sealAll(t)
				if err := tc.stop(s, w.ID); err != nil {
					t.Fatal(err)
				}
				if err := s.webhooks.DeliverBatch(ctx, s.batches(t)[0]); err != nil {
					t.Fatal(err)
				}
				if n := len(rc.all()); n != 0 {
					t.Fatalf("receiver got %d POSTs for an inactive webhook", n)
				}
				ds := s.deliveries(t, w.ID)
				if len(ds) != 2 {
					t.Fatalf("%d deliveries, want 2 recorded canceled", len(ds))
				}
				var mine *webhook.Delivery
				for _, d := range ds {
					if d.Status != webhook.StatusCanceled || d.LastError != tc.reason || d.Attempts != 0 || d.CompletedAt.IsZero() {
						t.Errorf("delivery %+v; want canceled (%s) without attempts", d, tc.reason)
					}
					if d.RequestID == r.ID {
						mine = d
					}
				}
				if mine == nil || !strings.Contains(string(mine.Data), r.ID) {
					t.Fatalf("the canceled delivery of %s lacks its data: %+v", r.ID, mine)
				}
				if tc.name != "disable" {
					return
				}
				if _, _, err := s.webhooks.Update(ctx, w.ID, webhook.Patch{Enabled: new(true)}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.webhooks.Replay(ctx, mine.ID); err != nil {
					t.Fatal(err)
				}
				if err := s.runner.Start(ctx); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					defer cancel()
					_ = s.runner.Stop(sctx)
				})
				h := rc.waitHits(t, 1, 10*time.Second)[0]
				if p := parseHit(t, h); p.ID != mine.ID || p.Request.ID != r.ID || h.header.Get(webhook.HeaderAttempt) != "1" {
					t.Fatalf("replay sent %+v attempt %s; want %s attempt 1", p, h.header.Get(webhook.HeaderAttempt), mine.ID)
				}
			})
		})
	}
}
