package approval_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/events"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
)

var ctx = context.Background()

type bundle struct {
	svc   *approval.Service
	st    *store.Store
	hub   *events.Hub
	clock *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type recorder struct {
	mu     sync.Mutex
	events []approval.Event
}

func (r *recorder) Publish(_ context.Context, evs ...approval.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
}

func setup(t *testing.T) (*bundle, *recorder) {
	t.Helper()
	c := &fakeClock{t: time.Now().UTC()}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "a.db"), store.Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hub := events.NewHub()
	rec := &recorder{}
	svc := approval.NewService(st, approval.Config{DefaultTimeout: time.Hour}, approval.Options{Publisher: multi{rec, events.NewLocal(hub)}, Watcher: hub})
	return &bundle{svc: svc, st: st, hub: hub, clock: c}, rec
}

type multi []approval.Publisher

func (m multi) Publish(ctx context.Context, evs ...approval.Event) {
	for _, p := range m {
		p.Publish(ctx, evs...)
	}
}

var (
	agent = approval.Actor{ID: "key_agent", Name: "agent", Type: approval.ActorAgent, Channel: "api"}
	alice = approval.Actor{ID: "key_alice", Name: "alice", Type: approval.ActorHuman, Channel: "api"}
	bob   = approval.Actor{ID: "key_bob", Name: "bob", Type: approval.ActorHuman, Channel: "api"}
)

func addPolicy(t *testing.T, b *bundle, p policy.Policy) {
	t.Helper()
	if _, err := b.svc.CreatePolicy(ctx, alice, p); err != nil {
		t.Fatal(err)
	}
}

func code(err error) approval.Code { return approval.ErrorCode(err) }

func TestCreateAppliesPolicies(t *testing.T) {
	b, rec := setup(t)
	addPolicy(t, b, policy.Policy{Name: "allow reads", Priority: 1, Enabled: true, Rules: []policy.Rule{
		{Match: map[string]any{"action": "read_file"}, Decision: policy.AutoApprove},
		{Match: map[string]any{"action": "drop_db"}, Decision: policy.AutoDeny},
	}})
	tests := []struct {
		action     string
		wantStatus approval.Status
		wantBy     string
		wantEvents []string
	}{
		{"read_file", approval.StatusApproved, "policy", []string{approval.EventRequestCreated, approval.EventRequestDecided}},
		{"drop_db", approval.StatusDenied, "policy", []string{approval.EventRequestCreated, approval.EventRequestDecided}},
		{"deploy", approval.StatusPending, "", []string{approval.EventRequestCreated}},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			rec.events = nil
			r, replayed, err := b.svc.Create(ctx, agent, approval.CreateInput{Action: tt.action})
			if err != nil || replayed {
				t.Fatalf("create: %v (replayed %v)", err, replayed)
			}
			if r.Status != tt.wantStatus || r.DecidedBy != tt.wantBy {
				t.Errorf("status %s by %q, want %s by %q", r.Status, r.DecidedBy, tt.wantStatus, tt.wantBy)
			}
			var types []string
			for _, e := range rec.events {
				types = append(types, e.Type)
				if e.ID == 0 {
					t.Errorf("event %s has no audit id", e.Type)
				}
			}
			if len(types) != len(tt.wantEvents) {
				t.Fatalf("published %v, want %v", types, tt.wantEvents)
			}
			trail, err := b.svc.RequestAudit(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(trail) != len(tt.wantEvents) {
				t.Errorf("audit trail has %d events, want %d", len(trail), len(tt.wantEvents))
			}
			if tt.wantStatus == approval.StatusPending && !r.ExpiresAt.Equal(r.CreatedAt.Add(time.Hour)) {
				t.Errorf("pending request expires at %v, want the default timeout after %v", r.ExpiresAt, r.CreatedAt)
			}
		})
	}
}

func TestIdempotency(t *testing.T) {
	b, _ := setup(t)
	in := approval.CreateInput{Action: "deploy", Params: map[string]any{"env": "prod"}, IdempotencyKey: "k-1"}
	first, replayed, err := b.svc.Create(ctx, agent, in)
	if err != nil || replayed {
		t.Fatalf("first: %v %v", err, replayed)
	}
	again, replayed, err := b.svc.Create(ctx, agent, in)
	if err != nil || !replayed || again.ID != first.ID {
		t.Fatalf("retry: id %s replayed %v err %v; want %s replayed", again.ID, replayed, err, first.ID)
	}
	other := in
	other.Params = map[string]any{"env": "staging"}
	if _, _, err := b.svc.Create(ctx, agent, other); code(err) != approval.CodeUnprocessable {
		t.Fatalf("same key, other body: %v, want unprocessable", err)
	}
	if _, replayed, err := b.svc.Create(ctx, bob, in); err != nil || replayed {
		t.Fatalf("another identity may use the same key: %v %v", err, replayed)
	}
	_, total, _ := b.svc.List(ctx, approval.RequestFilter{})
	if total != 2 {
		t.Errorf("%d requests stored, want 2", total)
	}
}

func TestDecideRules(t *testing.T) {
	b, _ := setup(t)
	addPolicy(t, b, policy.Policy{Name: "guarded", Priority: 1, Enabled: true, Rules: []policy.Rule{
		{Match: map[string]any{"action": "pay"}, Decision: policy.RouteToHuman, Approvers: []string{"alice", "key_carol"}, RequireReason: true},
	}})
	selfish := approval.Actor{ID: "key_both", Name: "both", Type: approval.ActorHuman}
	own, _, _ := b.svc.Create(ctx, selfish, approval.CreateInput{Action: "deploy"})
	if _, err := b.svc.Decide(ctx, selfish, own.ID, approval.DecideInput{Decision: approval.StatusApproved}); code(err) != approval.CodeForbidden {
		t.Errorf("creator deciding its own request: %v, want forbidden", err)
	}
	pay, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "pay"})
	if _, err := b.svc.Decide(ctx, bob, pay.ID, approval.DecideInput{Decision: approval.StatusApproved, Reason: "x"}); code(err) != approval.CodeForbidden {
		t.Errorf("non-approver: %v, want forbidden", err)
	}
	if _, err := b.svc.Decide(ctx, alice, pay.ID, approval.DecideInput{Decision: approval.StatusApproved}); code(err) != approval.CodeInvalid {
		t.Errorf("approver without required reason: %v, want invalid", err)
	}
	carol := approval.Actor{ID: "key_carol", Name: "Carol", Type: approval.ActorHuman}
	r, err := b.svc.Decide(ctx, carol, pay.ID, approval.DecideInput{Decision: approval.StatusDenied, Reason: "too much", Label: "carol@example.com"})
	if err != nil {
		t.Fatalf("approver by id: %v", err)
	}
	if r.DecidedBy != "Carol" || r.DecidedByID != "key_carol" || r.DecidedByLabel != "carol@example.com" || r.DecisionReason != "too much" {
		t.Errorf("decision fields: %+v", r)
	}
	if _, err := b.svc.Decide(ctx, alice, pay.ID, approval.DecideInput{Decision: approval.StatusApproved, Reason: "x"}); code(err) != approval.CodeConflict ||
		approval.ErrorMessage(err) != "Request already denied" {
		t.Errorf("second decision: %v, want conflict 'Request already denied'", err)
	}
	if _, err := b.svc.Decide(ctx, alice, "req_missing", approval.DecideInput{Decision: approval.StatusApproved}); code(err) != approval.CodeNotFound {
		t.Errorf("missing: %v", err)
	}
}

func TestExpireDue(t *testing.T) {
	b, rec := setup(t)
	addPolicy(t, b, policy.Policy{Name: "timeouts", Priority: 1, Enabled: true, Rules: []policy.Rule{
		{Match: map[string]any{"action": "a"}, Decision: policy.RouteToHuman, Timeout: policy.Duration(time.Minute), OnTimeout: "approve"},
		{Match: map[string]any{"action": "d"}, Decision: policy.RouteToHuman, Timeout: policy.Duration(time.Minute), OnTimeout: "deny"},
		{Match: map[string]any{"action": "e"}, Decision: policy.RouteToHuman, Timeout: policy.Duration(time.Minute)},
	}})
	ra, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "a"})
	rd, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "d"})
	re, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "e"})
	rl, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "later"}) // default: one hour
	explicit, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "a", ExpiresAt: b.clock.now().Add(10 * time.Minute)})
	if n, err := b.svc.ExpireDue(ctx, 100); err != nil || n != 0 {
		t.Fatalf("nothing due yet: %d %v", n, err)
	}
	b.clock.add(61 * time.Second)
	rec.events = nil
	n, err := b.svc.ExpireDue(ctx, 100)
	if err != nil || n != 3 {
		t.Fatalf("expired %d, %v; want 3", n, err)
	}
	for _, tt := range []struct {
		id   string
		want approval.Status
	}{{ra.ID, approval.StatusApproved}, {rd.ID, approval.StatusDenied}, {re.ID, approval.StatusExpired}, {rl.ID, approval.StatusPending}, {explicit.ID, approval.StatusPending}} {
		r, _ := b.svc.Get(ctx, tt.id)
		if r.Status != tt.want {
			t.Errorf("%s: %s, want %s", r.Action, r.Status, tt.want)
		}
		if r.Status != approval.StatusPending && (r.DecidedByType != approval.ActorSystem || r.DecidedBy != "system") {
			t.Errorf("%s decided by %s/%s, want the system", r.Action, r.DecidedBy, r.DecidedByType)
		}
	}
	types := map[string]int{}
	for _, e := range rec.events {
		types[e.Type]++
	}
	if types[approval.EventRequestExpired] != 1 || types[approval.EventRequestDecided] != 2 {
		t.Errorf("events %v, want 1 expired and 2 decided", types)
	}
	if n, _ := b.svc.ExpireDue(ctx, 100); n != 0 {
		t.Errorf("a second sweep ended %d more, want 0 (exactly once)", n)
	}
	if _, err := b.svc.Decide(ctx, alice, re.ID, approval.DecideInput{Decision: approval.StatusApproved}); code(err) != approval.CodeConflict {
		t.Errorf("deciding an expired request: %v, want conflict", err)
	}
}

func TestWait(t *testing.T) {
	b, _ := setup(t)
	r, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "deploy"})

	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	got, err := b.svc.Wait(wctx, r.ID)
	cancel()
	if err != nil || got.Status != approval.StatusPending {
		t.Fatalf("wait until timeout: %v %v, want the pending request", got, err)
	}

	done := make(chan *approval.Request, 1)
	go func() {
		got, err := b.svc.Wait(context.Background(), r.ID)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	for b.hub.Subscribers() == 0 { // the waiter is watching
		time.Sleep(time.Millisecond)
	}
	if _, err := b.svc.Decide(ctx, alice, r.ID, approval.DecideInput{Decision: approval.StatusApproved, Reason: "go"}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got.Status != approval.StatusApproved || got.DecisionReason != "go" {
			t.Errorf("waiter got %s %q", got.Status, got.DecisionReason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter was not woken by the decision")
	}
	if _, err := b.svc.Wait(ctx, "req_missing"); code(err) != approval.CodeNotFound {
		t.Errorf("wait on a missing request: %v", err)
	}
}

func TestEventsSince(t *testing.T) {
	b, rec := setup(t)
	r1, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "x"})
	first := rec.events[0].ID
	b.svc.Decide(ctx, alice, r1.ID, approval.DecideInput{Decision: approval.StatusDenied})
	r2, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "y"})
	evs, err := b.svc.EventsSince(ctx, first, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != approval.EventRequestDecided || evs[1].Type != approval.EventRequestCreated || evs[1].Request.ID != r2.ID {
		t.Fatalf("events since the first: %+v", evs)
	}
}

func TestConcurrentCreates(t *testing.T) {
	b, _ := setup(t)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if _, _, err := b.svc.Create(ctx, agent, approval.CreateInput{Action: "bulk", Params: map[string]any{"i": i}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	_, total, err := b.svc.List(ctx, approval.RequestFilter{Action: "bulk"})
	if err != nil || total != 40 {
		t.Fatalf("%d requests, %v; want 40", total, err)
	}
}

func TestFailedConditionNeverAutoApproves(t *testing.T) {
	b, _ := setup(t)
	addPolicy(t, b, policy.Policy{Name: "pay", Priority: 1, Enabled: true, Rules: []policy.Rule{
		// params.amount is missing in the request below: the condition fails.
		{Match: map[string]any{"action": "pay"}, When: "params.amount > 1000", Decision: policy.AutoDeny},
		{Match: map[string]any{"action": "pay"}, Decision: policy.AutoApprove},
	}})
	r, _, err := b.svc.Create(ctx, agent, approval.CreateInput{Action: "pay", Params: map[string]any{"to": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != approval.StatusPending || r.PolicyDecision.Decision != string(policy.RouteToHuman) {
		t.Fatalf("status %s decision %s: a failed condition must not let a later rule auto-approve", r.Status, r.PolicyDecision.Decision)
	}
	ok, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "pay", Params: map[string]any{"amount": 5}})
	if ok.Status != approval.StatusApproved {
		t.Fatalf("with the field present the second rule approves; got %s (%s)", ok.Status, ok.PolicyDecision.Reason)
	}
	big, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "pay", Params: map[string]any{"amount": 5000}})
	if big.Status != approval.StatusDenied {
		t.Fatalf("amount 5000: got %s", big.Status)
	}
}
