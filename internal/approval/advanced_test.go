package approval_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/events"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/testserver"
)

// eachDB runs fn on SQLite and, when configured, PostgreSQL.
func eachDB(t *testing.T, fn func(t *testing.T, b *bundle)) {
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "a.db") }},
		{"postgres", func(t *testing.T) string { return testserver.PostgresURL(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			url := db.url(t)
			c := &fakeClock{t: time.Now().UTC()}
			st, err := store.Open(ctx, url, store.Options{Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			hub := events.NewHub()
			svc := approval.NewService(st, approval.Config{DefaultTimeout: time.Hour}, approval.Options{Publisher: events.NewLocal(hub), Watcher: hub})
			fn(t, &bundle{svc: svc, st: st, hub: hub, clock: c})
		})
	}
}

func human(id string) approval.Actor {
	return approval.Actor{ID: "key_" + id, Name: id, Type: approval.ActorHuman, Channel: "api"}
}

func trailTypes(t *testing.T, b *bundle, id string) []string {
	t.Helper()
	evs, err := b.svc.RequestAudit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.EventType)
	}
	return out
}

func count(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func TestQuorum(t *testing.T) {
	eachDB(t, func(t *testing.T, b *bundle) {
		if _, err := b.svc.SaveGroup(ctx, alice, "leads", []string{"carol", "key_dave"}); err != nil {
			t.Fatal(err)
		}
		addPolicy(t, b, policy.Policy{Name: "two of three", Priority: 1, Enabled: true, Rules: []policy.Rule{
			{Match: map[string]any{"action": "pay"}, Decision: policy.RouteToHuman,
				Approvals: &policy.Quorum{Required: 2, From: []string{"alice", "bob", "group:leads"}}},
		}})
		r, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "pay"})

		if _, err := b.svc.Decide(ctx, human("mallory"), r.ID, approval.DecideInput{Decision: approval.StatusApproved}); code(err) != approval.CodeForbidden {
			t.Fatalf("outsider: %v, want forbidden", err)
		}
		got, err := b.svc.Decide(ctx, human("alice"), r.ID, approval.DecideInput{Decision: approval.StatusApproved, Reason: "fine"})
		if err != nil || got.Status != approval.StatusPending || got.ApprovalVotes != 1 {
			t.Fatalf("first vote: %v %+v", err, got)
		}
		if _, err := b.svc.Decide(ctx, human("alice"), r.ID, approval.DecideInput{Decision: approval.StatusApproved}); code(err) != approval.CodeConflict ||
			!strings.Contains(approval.ErrorMessage(err), "already approved this request (1 of 2") {
			t.Fatalf("second vote by the same person: %v", err)
		}
		// carol is allowed through the leads group.
		got, err = b.svc.Decide(ctx, human("carol"), r.ID, approval.DecideInput{Decision: approval.StatusApproved, Reason: "ok"})
		if err != nil || got.Status != approval.StatusApproved || got.ApprovalVotes != 2 || got.DecidedBy != "carol" {
			t.Fatalf("second vote: %v %+v", err, got)
		}
		types := trailTypes(t, b, r.ID)
		if count(types, "voted") != 1 || count(types, "approved") != 1 {
			t.Errorf("trail %v: want one vote and one approval", types)
		}

		veto, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "pay"})
		b.svc.Decide(ctx, human("bob"), veto.ID, approval.DecideInput{Decision: approval.StatusApproved})
		got, err = b.svc.Decide(ctx, human("dave"), veto.ID, approval.DecideInput{Decision: approval.StatusDenied, Reason: "no"})
		if err != nil || got.Status != approval.StatusDenied {
			t.Fatalf("veto: %v %+v", err, got)
		}
	})
}

func TestQuorumConcurrentVotes(t *testing.T) {
	eachDB(t, func(t *testing.T, b *bundle) {
		addPolicy(t, b, policy.Policy{Name: "two of three", Priority: 1, Enabled: true, Rules: []policy.Rule{
			{Match: map[string]any{"action": "pay"}, Decision: policy.RouteToHuman, Approvals: &policy.Quorum{Required: 2, From: []string{"a", "b", "c"}}},
		}})
		for round := range 5 {
			r, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "pay"})
			var wg sync.WaitGroup
			errs := make([]error, 3)
			for i, who := range []string{"a", "b", "c"} {
				wg.Go(func() {
					_, errs[i] = b.svc.Decide(ctx, human(who), r.ID, approval.DecideInput{Decision: approval.StatusApproved})
				})
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else if code(err) != approval.CodeConflict {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			got, _ := b.svc.Get(ctx, r.ID)
			types := trailTypes(t, b, r.ID)
			if got.Status != approval.StatusApproved || got.ApprovalVotes != 2 || ok != 2 ||
				count(types, "voted") != 1 || count(types, "approved") != 1 {
				t.Fatalf("round %d: status %s votes %d, %d accepted, trail %v; want approved by exactly 2 votes",
					round, got.Status, got.ApprovalVotes, ok, types)
			}
		}
	})
}

func TestEditBeforeApprove(t *testing.T) {
	eachDB(t, func(t *testing.T, b *bundle) {
		addPolicy(t, b, policy.Policy{Name: "limits", Priority: 1, Enabled: true, Rules: []policy.Rule{
			{Match: map[string]any{"action": "refund", "params.amount": map[string]any{"$gt": 500.0}}, Decision: policy.AutoDeny},
		}})
		r, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "refund", Params: map[string]any{"amount": 120, "note": "late"}})
		if _, err := b.svc.Decide(ctx, alice, r.ID, approval.DecideInput{Decision: approval.StatusApproved, Params: map[string]any{"amount": 900}}); code(err) != approval.CodeUnprocessable {
			t.Fatalf("edit the policy denies: %v, want unprocessable", err)
		}
		if _, err := b.svc.Decide(ctx, alice, r.ID, approval.DecideInput{Decision: approval.StatusDenied, Params: map[string]any{"amount": 1}}); code(err) != approval.CodeInvalid {
			t.Fatalf("edit with a denial: %v, want invalid", err)
		}
		got, err := b.svc.Decide(ctx, alice, r.ID, approval.DecideInput{Decision: approval.StatusApproved, Params: map[string]any{"amount": 100, "note": "late"}})
		if err != nil {
			t.Fatal(err)
		}
		if string(got.ApprovedParams) != `{"amount":100,"note":"late"}` || string(got.Params) != `{"amount":120,"note":"late"}` {
			t.Fatalf("params %s approved %s", got.Params, got.ApprovedParams)
		}
		stored, _ := b.svc.Get(ctx, r.ID)
		if string(stored.ApprovedParams) != string(got.ApprovedParams) {
			t.Errorf("stored approvedParams %s", stored.ApprovedParams)
		}
		evs, _ := b.svc.RequestAudit(ctx, r.ID)
		last := evs[len(evs)-1]
		var det struct {
			Edited  bool                   `json:"edited"`
			Changes []approval.ParamChange `json:"changes"`
		}
		if err := json.Unmarshal(last.Details, &det); err != nil {
			t.Fatal(err)
		}
		if !det.Edited || len(det.Changes) != 1 || det.Changes[0].Key != "amount" || string(det.Changes[0].Before) != "120" || string(det.Changes[0].After) != "100" {
			t.Errorf("audit of the edit: %s", last.Details)
		}
	})
}

func TestEscalation(t *testing.T) {
	eachDB(t, func(t *testing.T, b *bundle) {
		addPolicy(t, b, policy.Policy{Name: "esc", Priority: 1, Enabled: true, Rules: []policy.Rule{
			{Match: map[string]any{"action": "deploy"}, Decision: policy.RouteToHuman, Escalate: []policy.Escalation{
				{After: policy.Duration(15 * time.Minute), To: []string{"slack:#oncall"}},
				{After: policy.Duration(time.Hour), To: []string{"email:lead@example.com"}},
			}},
		}})
		r, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "deploy"})
		for i, want := range []bool{true, false} { // a timer that runs twice fires once
			fired, err := b.svc.Escalate(ctx, r.ID, 0)
			if err != nil || fired != want {
				t.Fatalf("step 1 run %d: fired %v, %v", i, fired, err)
			}
		}
		got, _ := b.svc.Get(ctx, r.ID)
		if got.EscalationLevel != 1 {
			t.Fatalf("level %d", got.EscalationLevel)
		}
		b.svc.Decide(ctx, alice, r.ID, approval.DecideInput{Decision: approval.StatusApproved})
		if fired, _ := b.svc.Escalate(ctx, r.ID, 1); fired {
			t.Fatal("escalated a decided request")
		}
		if n := count(trailTypes(t, b, r.ID), "escalated"); n != 1 {
			t.Errorf("%d escalation events, want 1", n)
		}

		// A decision and an escalation at the same instant: whichever wins,
		// an escalation is never recorded after the decision.
		for range 10 {
			r, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "deploy"})
			var wg sync.WaitGroup
			wg.Go(func() { b.svc.Escalate(ctx, r.ID, 0) })
			wg.Go(func() { b.svc.Decide(ctx, alice, r.ID, approval.DecideInput{Decision: approval.StatusDenied}) })
			wg.Wait()
			types := trailTypes(t, b, r.ID)
			if types[len(types)-1] == "escalated" {
				t.Fatalf("escalation recorded after the decision: %v", types)
			}
		}
	})
}

func TestGrants(t *testing.T) {
	eachDB(t, func(t *testing.T, b *bundle) {
		first, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "send_email", Params: map[string]any{"to": "a@example.com"}})
		maxUses := 2
		if _, err := b.svc.Decide(ctx, alice, first.ID, approval.DecideInput{Decision: approval.StatusApproved,
			Grant: &approval.GrantInput{Duration: time.Hour, MaxUses: &maxUses, Conditions: map[string]any{"to": map[string]any{"$glob": "*@example.com"}}}}); err != nil {
			t.Fatal(err)
		}
		status := func(a approval.Actor, action, to string) *approval.Request {
			r, _, err := b.svc.Create(ctx, a, approval.CreateInput{Action: action, Params: map[string]any{"to": to}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		if r := status(agent, "send_email", "x@evil.com"); r.Status != approval.StatusPending {
			t.Errorf("conditions not matching: %s", r.Status)
		}
		if r := status(bob, "send_email", "b@example.com"); r.Status != approval.StatusPending {
			t.Errorf("another agent used the grant: %s", r.Status)
		}
		if r := status(agent, "delete", "b@example.com"); r.Status != approval.StatusPending {
			t.Errorf("another action used the grant: %s", r.Status)
		}
		r1 := status(agent, "send_email", "b@example.com")
		if r1.Status != approval.StatusApproved || r1.DecidedBy != "grant" || r1.GrantID == "" || !strings.Contains(r1.DecisionReason, "use 1 of 2") {
			t.Fatalf("first use: %+v", r1)
		}
		if r := status(agent, "send_email", "c@example.com"); r.Status != approval.StatusApproved {
			t.Fatalf("second use: %s", r.Status)
		}
		if r := status(agent, "send_email", "d@example.com"); r.Status != approval.StatusPending {
			t.Fatalf("a third use past maxUses 2: %s", r.Status)
		}
		if types := trailTypes(t, b, r1.ID); count(types, "grant.used") != 1 || count(types, "approved") != 1 {
			t.Errorf("trail of a grant use: %v", types)
		}

		// Concurrent use never goes past the maximum.
		seed, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "deploy"})
		three := 3
		b.svc.Decide(ctx, alice, seed.ID, approval.DecideInput{Decision: approval.StatusApproved, Grant: &approval.GrantInput{Duration: time.Hour, MaxUses: &three}})
		var wg sync.WaitGroup
		var mu sync.Mutex
		approved := 0
		for range 12 {
			wg.Go(func() {
				r, _, err := b.svc.Create(ctx, agent, approval.CreateInput{Action: "deploy"})
				if err != nil {
					t.Error(err)
					return
				}
				if r.Status == approval.StatusApproved {
					mu.Lock()
					approved++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if approved != 3 {
			t.Fatalf("%d concurrent requests approved by a grant of 3 uses", approved)
		}

		grants, total, err := b.svc.Grants(ctx, approval.GrantFilter{ActiveOnly: true})
		if err != nil || total != 0 || len(grants) != 0 {
			t.Errorf("active grants after both are used up: %d %v", total, err)
		}
		// Revocation stops an unused grant at once.
		s2, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "rotate"})
		b.svc.Decide(ctx, alice, s2.ID, approval.DecideInput{Decision: approval.StatusApproved, Grant: &approval.GrantInput{Duration: time.Hour}})
		all, _, _ := b.svc.Grants(ctx, approval.GrantFilter{Action: "rotate"})
		if _, err := b.svc.RevokeGrant(ctx, alice, all[0].ID); err != nil {
			t.Fatal(err)
		}
		if r := status(agent, "rotate", ""); r.Status != approval.StatusPending {
			t.Errorf("revoked grant used: %s", r.Status)
		}
	})
}

func TestDecideBatch(t *testing.T) {
	b, _ := setup(t)
	r1, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "a"})
	r2, _, _ := b.svc.Create(ctx, agent, approval.CreateInput{Action: "b"})
	mine, _, _ := b.svc.Create(ctx, alice, approval.CreateInput{Action: "c"})
	b.svc.Decide(ctx, bob, r2.ID, approval.DecideInput{Decision: approval.StatusDenied})
	res, err := b.svc.DecideBatch(context.Background(), alice, []string{r1.ID, r2.ID, mine.ID, "req_missing", r1.ID}, approval.DecideInput{Decision: approval.StatusApproved, Reason: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	want := []approval.Code{"", approval.CodeConflict, approval.CodeForbidden, approval.CodeNotFound}
	if len(res) != len(want) {
		t.Fatalf("%d results (duplicates must collapse)", len(res))
	}
	for i, r := range res {
		if (want[i] == "") != (r.Err == nil) || (r.Err != nil && code(r.Err) != want[i]) {
			t.Errorf("result %d (%s): %v, want %q", i, r.ID, r.Err, want[i])
		}
	}
	if _, err := b.svc.DecideBatch(ctx, alice, nil, approval.DecideInput{Decision: approval.StatusApproved}); code(err) != approval.CodeInvalid {
		t.Errorf("empty batch: %v", err)
	}
}
