// Package storetest is the conformance suite of the store: the same tests
// run on SQLite (always) and PostgreSQL (when AGENTGATE_TEST_POSTGRES_URL
// is set), so the two dialects cannot drift apart.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

// Open returns a new, migrated, empty store whose clock is now.
type Open func(t *testing.T, now func() time.Time) *store.Store

// Run runs every test of the suite against stores made by open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Open)
	}{
		{"RequestRoundTrip", testRequestRoundTrip},
		{"RequestNotFound", testRequestNotFound},
		{"RequestDecideCAS", testRequestDecideCAS},
		{"RequestDecideConcurrent", testRequestDecideConcurrent},
		{"RequestListFilters", testRequestListFilters},
		{"RequestListPastEnd", testRequestListPastEnd},
		{"RequestListRowsIndependent", testRequestListRowsIndependent},
		{"RequestListDue", testRequestListDue},
		{"IdempotencyKeyUnique", testIdempotencyKeyUnique},
		{"RollbackLeavesNothing", testRollbackLeavesNothing},
		{"ConcurrentTransactionsIsolated", testConcurrentTransactionsIsolated},
		{"AuditTrail", testAuditTrail},
		{"AuditSince", testAuditSince},
		{"Policies", testPolicies},
		{"Keys", testKeys},
		{"Markers", testMarkers},
		{"Notifications", testNotifications},
		{"DecisionLinks", testDecisionLinks},
		{"InteractionReplays", testInteractionReplays},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

var ctx = context.Background()

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)}
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// RequestOpts overrides fields of a test request.
type RequestOpts struct {
	Action    string
	Status    approval.Status
	Urgency   approval.Urgency
	AgentID   string
	ExpiresAt time.Time
	IdemKey   string
}

// Request inserts a request with defaults and returns it.
func Request(t testing.TB, s *store.Store, o *RequestOpts) *approval.Request {
	t.Helper()
	if o == nil {
		o = &RequestOpts{}
	}
	var r *approval.Request
	err := s.WithTx(ctx, func(tx approval.Tx) error {
		now := tx.Now()
		r = &approval.Request{
			ID:             approval.NewID("req_"),
			Action:         or(o.Action, "send_email"),
			Params:         json.RawMessage(`{"to":"a@example.com","amount":12.50}`),
			Context:        json.RawMessage(`{"user":{"role":"admin"}}`),
			Urgency:        approval.Urgency(or(string(o.Urgency), "normal")),
			Status:         approval.Status(or(string(o.Status), "pending")),
			CreatedAt:      now,
			UpdatedAt:      now,
			ExpiresAt:      o.ExpiresAt,
			PolicyDecision: approval.PolicyDecision{Decision: "route_to_human", Reason: "no policy matched", Approvers: []string{"alice"}},
			AgentID:        or(o.AgentID, "key_agent"),
			AgentName:      "agent",
			IdempotencyKey: o.IdemKey,
			RequestHash:    "h",
		}
		if r.Status != approval.StatusPending {
			r.DecidedAt, r.DecidedBy, r.DecidedByType, r.DecisionReason = now, "policy", approval.ActorPolicy, "rule"
		}
		return tx.RequestInsert(ctx, r)
	})
	if err != nil {
		t.Fatalf("insert request: %v", err)
	}
	return r
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func testRequestRoundTrip(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	want := Request(t, s, &RequestOpts{ExpiresAt: c.now().Add(time.Hour).Truncate(time.Microsecond)})
	got, err := s.RequestGetByID(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("request round trip (-want +got):\n%s", d)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
	if !got.CreatedAt.Equal(c.now().Truncate(time.Microsecond)) {
		t.Errorf("CreatedAt = %v, want the transaction clock %v", got.CreatedAt, c.now())
	}
}

func testRequestNotFound(t *testing.T, open Open) {
	s := open(t, time.Now)
	if _, err := s.RequestGetByID(ctx, "req_missing"); !errors.Is(err, approval.ErrNotFound) {
		t.Fatalf("get missing = %v, want ErrNotFound", err)
	}
}

func decided(r *approval.Request, st approval.Status, by string, at time.Time) *approval.Request {
	c := *r
	c.Status, c.DecidedBy, c.DecidedByID, c.DecidedByType = st, by, "key_"+by, approval.ActorHuman
	c.DecidedAt, c.UpdatedAt, c.DecisionReason, c.DecidedByLabel = at, at, "because", "label"
	return &c
}

func testRequestDecideCAS(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	r := Request(t, s, nil)
	c.add(time.Minute)
	at := c.now()
	err := s.WithTx(ctx, func(tx approval.Tx) error {
		return tx.RequestDecide(ctx, decided(r, approval.StatusApproved, "bob", at))
	})
	if err != nil {
		t.Fatalf("first decide: %v", err)
	}
	err = s.WithTx(ctx, func(tx approval.Tx) error { return tx.RequestDecide(ctx, decided(r, approval.StatusDenied, "eve", at)) })
	if !errors.Is(err, approval.ErrAlreadyDecided) {
		t.Fatalf("second decide = %v, want ErrAlreadyDecided", err)
	}
	got, err := s.RequestGetByID(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(decided(r, approval.StatusApproved, "bob", at), got); d != "" {
		t.Errorf("decided request (-want +got):\n%s", d)
	}
}

func testRequestDecideConcurrent(t *testing.T, open Open) {
	s := open(t, time.Now)
	r := Request(t, s, nil)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.WithTx(ctx, func(tx approval.Tx) error {
				cur, err := tx.RequestGetByID(ctx, r.ID)
				if err != nil {
					return err
				}
				return tx.RequestDecide(ctx, decided(cur, approval.StatusApproved, fmt.Sprint("d", i), tx.Now()))
			})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, approval.ErrAlreadyDecided):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent decisions won, want exactly 1", wins)
	}
}

func testRequestListFilters(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	var ids []string
	mk := func(o *RequestOpts) {
		c.add(time.Second)
		ids = append(ids, Request(t, s, o).ID)
	}
	mk(&RequestOpts{Action: "deploy", Urgency: "low"})                        // 0
	mk(&RequestOpts{Action: "deploy", Urgency: "critical"})                   // 1
	mk(&RequestOpts{Action: "send_email", Urgency: "high", Status: "denied"}) // 2
	mk(&RequestOpts{Action: "deploy", Urgency: "high", AgentID: "key_other"}) // 3
	mk(&RequestOpts{Action: "send_email", ExpiresAt: c.now().Add(time.Minute)})
	mk(&RequestOpts{Action: "send_email", ExpiresAt: c.now().Add(time.Second)}) // 5

	tests := []struct {
		name      string
		f         approval.RequestFilter
		wantIDs   []int
		wantTotal int64
	}{
		{"newest first", approval.RequestFilter{Sort: approval.SortNewest, Limit: 10}, []int{5, 4, 3, 2, 1, 0}, 6},
		{"oldest first", approval.RequestFilter{Sort: approval.SortOldest, Limit: 10}, []int{0, 1, 2, 3, 4, 5}, 6},
		{"status", approval.RequestFilter{Status: "denied", Sort: approval.SortNewest, Limit: 10}, []int{2}, 1},
		{"action", approval.RequestFilter{Action: "deploy", Sort: approval.SortOldest, Limit: 10}, []int{0, 1, 3}, 3},
		{"agent", approval.RequestFilter{AgentID: "key_other", Sort: approval.SortOldest, Limit: 10}, []int{3}, 1},
		{"urgency then age", approval.RequestFilter{Status: "pending", Sort: approval.SortUrgency, Limit: 10}, []int{1, 3, 4, 5, 0}, 5},
		{"soonest expiry, none last", approval.RequestFilter{Status: "pending", Sort: approval.SortSLARemaining, Limit: 10}, []int{5, 4, 0, 1, 3}, 5},
		{"page 2", approval.RequestFilter{Sort: approval.SortOldest, Limit: 2, Offset: 2}, []int{2, 3}, 6},
		{"from", approval.RequestFilter{From: newClock().now().Add(4 * time.Second), Sort: approval.SortOldest, Limit: 10}, []int{3, 4, 5}, 3},
		{"to", approval.RequestFilter{To: newClock().now().Add(2 * time.Second), Sort: approval.SortOldest, Limit: 10}, []int{0, 1}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.RequestList(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, r := range got {
				gotIDs = append(gotIDs, r.ID)
			}
			var want []string
			for _, i := range tt.wantIDs {
				want = append(want, ids[i])
			}
			if d := cmp.Diff(want, gotIDs); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if total != tt.wantTotal {
				t.Errorf("total = %d, want %d", total, tt.wantTotal)
			}
		})
	}
	if n, err := s.RequestCountByStatus(ctx, approval.StatusPending); err != nil || n != 5 {
		t.Errorf("pending count = %d, %v; want 5", n, err)
	}
}

// A list reads its rows through one set of scan targets: a row with every
// optional field set must leave nothing behind in the bare rows after it.
func testRequestListRowsIndependent(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	ri := 3
	full := func() *approval.Request {
		c.add(time.Second)
		now := c.now()
		return &approval.Request{
			ID:              approval.NewID("req_"),
			Action:          "deploy",
			Params:          json.RawMessage(`{"env":"prod"}`),
			Context:         json.RawMessage(`{"run":1}`),
			Urgency:         approval.UrgencyHigh,
			Status:          approval.StatusApproved,
			CreatedAt:       now,
			UpdatedAt:       now,
			DecidedAt:       now,
			DecidedBy:       "alice",
			DecidedByID:     "key_alice",
			DecidedByType:   approval.ActorHuman,
			DecidedByLabel:  "Alice",
			DecisionReason:  "ok",
			ExpiresAt:       now.Add(time.Hour),
			PolicyDecision:  approval.PolicyDecision{Decision: "route_to_human", PolicyID: "pol_1", RuleIndex: &ri, Reason: "rule"},
			AgentID:         "key_agent",
			AgentName:       "agent",
			IdempotencyKey:  approval.NewID("idem_"),
			RequestHash:     "h",
			ApprovedParams:  json.RawMessage(`{"env":"staging"}`),
			ApprovalVotes:   2,
			EscalationLevel: 1,
			GrantID:         "gr_1",
		}
	}
	var ids []string
	insert := func(r *approval.Request) {
		if err := s.WithTx(ctx, func(tx approval.Tx) error { return tx.RequestInsert(ctx, r) }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	insert(full())
	c.add(time.Second)
	ids = append(ids, Request(t, s, nil).ID) // pending, no optional field
	insert(full())
	c.add(time.Second)
	ids = append(ids, Request(t, s, nil).ID)

	for _, sort := range []string{approval.SortOldest, approval.SortNewest} {
		got, _, err := s.RequestList(ctx, approval.RequestFilter{Sort: sort, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) {
			t.Fatalf("%s: %d rows, want %d", sort, len(got), len(ids))
		}
		for _, r := range got {
			one, err := s.RequestGetByID(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(one, r); d != "" {
				t.Errorf("%s: listed %s differs from reading it alone (-alone +listed):\n%s", sort, r.ID, d)
			}
		}
	}
}

func testRequestListPastEnd(t *testing.T, open Open) {
	s := open(t, time.Now)
	for range 3 {
		Request(t, s, nil)
	}
	got, total, err := s.RequestList(ctx, approval.RequestFilter{Sort: approval.SortNewest, Limit: 10, Offset: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || total != 3 {
		t.Errorf("past the end: %d rows, total %d; want 0 rows, total 3", len(got), total)
	}
}

func testRequestListDue(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	late := Request(t, s, &RequestOpts{ExpiresAt: c.now().Add(2 * time.Minute)})
	soon := Request(t, s, &RequestOpts{ExpiresAt: c.now().Add(time.Minute)})
	Request(t, s, &RequestOpts{ExpiresAt: c.now().Add(time.Hour)})
	Request(t, s, nil) // never expires
	Request(t, s, &RequestOpts{Status: "approved", ExpiresAt: c.now().Add(time.Second)})
	var due []*approval.Request
	err := s.WithTx(ctx, func(tx approval.Tx) error {
		var err error
		due, err = tx.RequestListDue(ctx, c.now().Add(5*time.Minute), 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range due {
		got = append(got, r.ID)
	}
	if d := cmp.Diff([]string{soon.ID, late.ID}, got); d != "" {
		t.Errorf("due requests, soonest first (-want +got):\n%s", d)
	}

	// RequestDueExists reads the store's clock: the approved request's
	// passed expiry does not count, the pending ones' do once passed.
	for _, tt := range []struct {
		advance time.Duration
		want    bool
	}{{2 * time.Second, false}, {59 * time.Second, true}} {
		c.add(tt.advance)
		if due, err := s.RequestDueExists(ctx); err != nil || due != tt.want {
			t.Errorf("after +%s: RequestDueExists = %v, %v; want %v", tt.advance, due, err, tt.want)
		}
	}
}

func testIdempotencyKeyUnique(t *testing.T, open Open) {
	s := open(t, time.Now)
	first := Request(t, s, &RequestOpts{IdemKey: "k1"})
	err := s.WithTx(ctx, func(tx approval.Tx) error {
		got, err := tx.RequestGetByIdempotencyKey(ctx, "key_agent", "k1")
		if err != nil {
			return err
		}
		if got.ID != first.ID {
			t.Errorf("found %s by idempotency key, want %s", got.ID, first.ID)
		}
		if _, err := tx.RequestGetByIdempotencyKey(ctx, "key_someone_else", "k1"); !errors.Is(err, approval.ErrNotFound) {
			t.Errorf("another agent's key lookup = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.WithTx(ctx, func(tx approval.Tx) error {
		r := *first
		r.ID = approval.NewID("req_")
		return tx.RequestInsert(ctx, &r)
	})
	if !errors.Is(err, approval.ErrDuplicate) {
		t.Fatalf("second insert with the same agent and key = %v, want ErrDuplicate", err)
	}
	Request(t, s, &RequestOpts{IdemKey: "k1", AgentID: "key_other"}) // other agents may reuse a key
}

func testRollbackLeavesNothing(t *testing.T, open Open) {
	s := open(t, time.Now)
	boom := errors.New("boom")
	var id string
	err := s.WithTx(ctx, func(tx approval.Tx) error {
		r := &approval.Request{ID: approval.NewID("req_"), Action: "x", Params: json.RawMessage(`{}`), Context: json.RawMessage(`{}`),
			Urgency: "normal", Status: "pending", CreatedAt: tx.Now(), UpdatedAt: tx.Now(), AgentID: "a", AgentName: "a"}
		id = r.ID
		if err := tx.RequestInsert(ctx, r); err != nil {
			return err
		}
		if err := tx.AuditInsert(ctx, &approval.AuditEvent{RequestID: r.ID, EventType: "created", Actor: "a", ActorType: "agent"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WithTx = %v, want the callback's error", err)
	}
	if _, err := s.RequestGetByID(ctx, id); !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("rolled-back request exists: %v", err)
	}
	if evs, err := s.AuditListByRequest(ctx, id); err != nil || len(evs) != 0 {
		t.Errorf("rolled-back audit events: %d, %v", len(evs), err)
	}
}

func audit(t *testing.T, s *store.Store, e *approval.AuditEvent) {
	t.Helper()
	if err := s.WithTx(ctx, func(tx approval.Tx) error { return tx.AuditInsert(ctx, e) }); err != nil {
		t.Fatal(err)
	}
}

func testAuditTrail(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	r1 := Request(t, s, &RequestOpts{Action: "deploy"})
	r2 := Request(t, s, &RequestOpts{Action: "send_email", Status: "denied"})
	det := json.RawMessage(`{"b":1,"a":{"z":[1,2]}}`)
	e1 := &approval.AuditEvent{RequestID: r1.ID, EventType: "created", Actor: "bot", ActorID: "key_bot", ActorType: "agent", Details: det}
	audit(t, s, e1)
	c.add(time.Second)
	e2 := &approval.AuditEvent{RequestID: r1.ID, EventType: "approved", Actor: "alice", ActorID: "key_alice", ActorType: "human"}
	audit(t, s, e2)
	c.add(time.Second)
	e3 := &approval.AuditEvent{RequestID: r2.ID, EventType: "created", Actor: "bot", ActorType: "agent"}
	audit(t, s, e3)
	e4 := &approval.AuditEvent{EventType: "key.created", Actor: "admin", ActorType: "human"}
	audit(t, s, e4)
	if !(e1.ID < e2.ID && e2.ID < e3.ID && e3.ID < e4.ID) {
		t.Fatalf("ids not increasing: %d %d %d %d", e1.ID, e2.ID, e3.ID, e4.ID)
	}

	trail, err := s.AuditListByRequest(ctx, r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 2 || trail[0].ID != e1.ID || trail[1].ID != e2.ID {
		t.Fatalf("trail of r1 = %+v, want e1, e2 oldest first", trail)
	}
	if string(trail[0].Details) != string(det) {
		t.Errorf("details changed in storage: %s, want byte-identical %s", trail[0].Details, det)
	}

	ids := func(f approval.AuditFilter) ([]int64, int64) {
		t.Helper()
		f.Limit = 10
		got, total, err := s.AuditList(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range got {
			out = append(out, e.ID)
		}
		return out, total
	}
	tests := []struct {
		name  string
		f     approval.AuditFilter
		want  []int64
		total int64
	}{
		{"all, newest first", approval.AuditFilter{}, []int64{e4.ID, e3.ID, e2.ID, e1.ID}, 4},
		{"by request", approval.AuditFilter{RequestID: r1.ID}, []int64{e2.ID, e1.ID}, 2},
		{"by type", approval.AuditFilter{EventType: "created"}, []int64{e3.ID, e1.ID}, 2},
		{"by actor", approval.AuditFilter{Actor: "alice"}, []int64{e2.ID}, 1},
		{"by request action", approval.AuditFilter{Action: "send_email"}, []int64{e3.ID}, 1},
		{"by request status", approval.AuditFilter{Status: "pending"}, []int64{e2.ID, e1.ID}, 2},
		{"from", approval.AuditFilter{From: newClock().now().Add(time.Second)}, []int64{e4.ID, e3.ID, e2.ID}, 3},
		{"to", approval.AuditFilter{To: newClock().now().Add(500 * time.Millisecond)}, []int64{e1.ID}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total := ids(tt.f)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if total != tt.total {
				t.Errorf("total = %d, want %d", total, tt.total)
			}
		})
	}
	all, _, err := s.AuditList(ctx, approval.AuditFilter{RequestID: r2.ID, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := &approval.RequestSummary{ID: r2.ID, Action: "send_email", Status: "denied", Urgency: "normal"}
	if d := cmp.Diff(want, all[0].Request); d != "" {
		t.Errorf("joined request summary (-want +got):\n%s", d)
	}
}

func testAuditSince(t *testing.T, open Open) {
	s := open(t, time.Now)
	r := Request(t, s, nil)
	var evs []*approval.AuditEvent
	for _, typ := range []string{"created", "key.created", "approved", "policy.updated", "expired"} {
		e := &approval.AuditEvent{RequestID: r.ID, EventType: typ, Actor: "x", ActorType: "system"}
		audit(t, s, e)
		evs = append(evs, e)
	}
	got, err := s.AuditListSince(ctx, evs[0].ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range got {
		if e.ID == evs[0].ID {
			t.Errorf("the last seen event %d was replayed", e.ID)
		}
		types = append(types, e.EventType)
	}
	if d := cmp.Diff([]string{"approved", "expired"}, types); d != "" {
		t.Errorf("events since (-want +got):\n%s", d)
	}
}

func testPolicies(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	gen := func() int64 {
		var g int64
		if err := s.WithTx(ctx, func(tx approval.Tx) error {
			var err error
			g, err = tx.PolicyGeneration(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return g
	}
	g0 := gen()
	p := &approval.StoredPolicy{
		Policy: policy.Policy{ID: "pol_1", Name: "payments", Priority: 10, Enabled: true, Scope: "per_agent",
			AgentIDs: []string{"key_a"}, Rules: []policy.Rule{{Match: map[string]any{"amount": map[string]any{"$gt": 100.0}},
				Decision: policy.AutoDeny, Approvers: []string{"alice"}, RequireReason: true, Timeout: policy.Duration(15 * time.Minute), OnTimeout: "deny"}}},
		Source: approval.PolicySourceAPI, CreatedAt: c.now().Truncate(time.Microsecond), UpdatedAt: c.now().Truncate(time.Microsecond),
	}
	if err := s.WithTx(ctx, func(tx approval.Tx) error { return tx.PolicyInsert(ctx, p) }); err != nil {
		t.Fatal(err)
	}
	if gen() != g0+1 {
		t.Errorf("generation did not move on insert")
	}
	got, err := s.PolicyGetByID(ctx, "pol_1")
	if err != nil {
		t.Fatal(err)
	}
	want := *p
	want.ToolIDs = []string{}
	if d := cmp.Diff(&want, got); d != "" {
		t.Errorf("policy round trip (-want +got):\n%s", d)
	}
	p.Name, p.Enabled = "payments v2", false
	if err := s.WithTx(ctx, func(tx approval.Tx) error { return tx.PolicyUpdate(ctx, p) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.PolicyGetByID(ctx, "pol_1"); got.Name != "payments v2" || got.Enabled {
		t.Errorf("update not stored: %+v", got.Policy)
	}
	p2 := *p
	p2.ID, p2.Priority = "pol_0", 1
	if err := s.WithTx(ctx, func(tx approval.Tx) error { return tx.PolicyInsert(ctx, &p2) }); err != nil {
		t.Fatal(err)
	}
	list, err := s.PolicyList(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "pol_0" {
		t.Fatalf("list = %v, %v; want pol_0 (priority 1) first", list, err)
	}
	if err := s.WithTx(ctx, func(tx approval.Tx) error { return tx.PolicyDelete(ctx, "pol_1") }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PolicyGetByID(ctx, "pol_1"); !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("deleted policy: %v", err)
	}
	for name, fn := range map[string]func(tx approval.Tx) error{
		"update missing": func(tx approval.Tx) error { q := *p; q.ID = "pol_x"; return tx.PolicyUpdate(ctx, &q) },
		"delete missing": func(tx approval.Tx) error { return tx.PolicyDelete(ctx, "pol_x") },
	} {
		if err := s.WithTx(ctx, fn); !errors.Is(err, approval.ErrNotFound) {
			t.Errorf("%s = %v, want ErrNotFound", name, err)
		}
	}
	if gen() != g0+4 {
		t.Errorf("generation = %d, want %d after four successful writes", gen(), g0+4)
	}
}

func testKeys(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	rl := 60
	k := &auth.Key{ID: "key_1", Name: "bot", Hash: auth.HashKey("agk_x"), Prefix: "agk_x", Scopes: []auth.Scope{"request:create"},
		RateLimit: &rl, CreatedAt: c.now().Truncate(time.Microsecond), CreatedBy: "admin"}
	if err := s.WithKeyTx(ctx, func(tx auth.Tx) error { return tx.KeyInsert(ctx, k) }); err != nil {
		t.Fatal(err)
	}
	dup := *k
	dup.ID = "key_2"
	err := s.WithKeyTx(ctx, func(tx auth.Tx) error { return tx.KeyInsert(ctx, &dup) })
	if !errors.Is(err, approval.ErrDuplicate) {
		t.Errorf("duplicate hash insert = %v, want ErrDuplicate", err)
	}
	got, err := s.KeyGetByHash(ctx, auth.HashKey("agk_x"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(k, got); d != "" {
		t.Errorf("key round trip (-want +got):\n%s", d)
	}
	used := c.now().Add(time.Hour).Truncate(time.Microsecond)
	if err := s.KeyTouch(ctx, "key_1", used); err != nil {
		t.Fatal(err)
	}
	k.RevokedAt = c.now().Add(2 * time.Hour).Truncate(time.Microsecond)
	k.RateLimit = nil
	k.Scopes = []auth.Scope{"admin"}
	if err := s.WithKeyTx(ctx, func(tx auth.Tx) error { return tx.KeyUpdate(ctx, k) }); err != nil {
		t.Fatal(err)
	}
	got, err = s.KeyGetByHash(ctx, auth.HashKey("agk_x"))
	if err != nil {
		t.Fatal(err)
	}
	k.LastUsedAt = used
	if d := cmp.Diff(k, got); d != "" {
		t.Errorf("updated key (-want +got):\n%s", d)
	}
	if _, err := s.KeyGetByHash(ctx, "nope"); !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("missing key = %v, want ErrNotFound", err)
	}
	list, err := s.KeyList(ctx)
	if err != nil || len(list) != 1 {
		t.Errorf("list = %d keys, %v", len(list), err)
	}
}

func testMarkers(t *testing.T, open Open) {
	s := open(t, time.Now)
	for i, want := range []bool{true, false} {
		var got bool
		err := s.WithKeyTx(ctx, func(tx auth.Tx) error {
			var err error
			got, err = tx.MarkerInsert(ctx, "m")
			return err
		})
		if err != nil || got != want {
			t.Errorf("insert #%d = %v, %v; want %v", i+1, got, err, want)
		}
	}
}

// testConcurrentTransactionsIsolated runs many transactions at once (on
// SQLite they share group commits): the failing ones leave nothing, the
// others all commit.
func testConcurrentTransactionsIsolated(t *testing.T, open Open) {
	s := open(t, time.Now)
	const n = 60
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.WithTx(ctx, func(tx approval.Tx) error {
				r := &approval.Request{ID: approval.NewID("req_"), Action: "x", Params: json.RawMessage(`{}`), Context: json.RawMessage(`{}`),
					Urgency: "normal", Status: "pending", CreatedAt: tx.Now(), UpdatedAt: tx.Now(), AgentID: "a", AgentName: "a"}
				ids[i] = r.ID
				if err := tx.RequestInsert(ctx, r); err != nil {
					return err
				}
				if err := tx.AuditInsert(ctx, &approval.AuditEvent{RequestID: r.ID, EventType: "created", Actor: "a", ActorType: "agent"}); err != nil {
					return err
				}
				if i%3 == 0 {
					return fmt.Errorf("fail %d", i)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		_, err := s.RequestGetByID(ctx, ids[i])
		trail, terr := s.AuditListByRequest(ctx, ids[i])
		if terr != nil {
			t.Fatal(terr)
		}
		if i%3 == 0 {
			if errs[i] == nil || err == nil && !errors.Is(err, approval.ErrNotFound) || len(trail) != 0 {
				t.Errorf("tx %d failed but left state: txErr=%v get=%v trail=%d", i, errs[i], err, len(trail))
			}
			if !errors.Is(err, approval.ErrNotFound) {
				t.Errorf("tx %d failed but its request exists", i)
			}
			continue
		}
		if errs[i] != nil || err != nil || len(trail) != 1 {
			t.Errorf("tx %d: txErr=%v get=%v trail=%d; want committed", i, errs[i], err, len(trail))
		}
	}
}
