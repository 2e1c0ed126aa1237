package client

import (
	"errors"
	"testing"
	"time"
)

func TestEditGrantBatchGroups(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := testCtx(t)

	// Edit before approve: the agent acts on ApprovedParams.
	r, err := b.agent.Request(ctx, RequestInput{Action: "refund", Params: map[string]any{"amount": 120}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.approver.Decide(ctx, r.ID, DecideInput{Decision: StatusApproved, Params: map[string]any{"amount": 100}})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.ApprovedParams) != `{"amount":100}` || string(got.ActionParams()) != `{"amount":100}` || string(got.Params) != `{"amount":120}` {
		t.Fatalf("params %s approved %s action %s", got.Params, got.ApprovedParams, got.ActionParams())
	}
	if _, err := b.approver.Decide(ctx, r.ID, DecideInput{Decision: StatusDenied, Params: []int{1}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("non-object params: %v", err)
	}

	// A grant approves the next request of the same agent and action.
	seed, _ := b.agent.Request(ctx, RequestInput{Action: "deploy.staging"})
	if _, err := b.approver.Decide(ctx, seed.ID, DecideInput{Decision: StatusApproved, Grant: &GrantInput{Duration: time.Hour, MaxUses: 1}}); err != nil {
		t.Fatal(err)
	}
	next, err := b.agent.Request(ctx, RequestInput{Action: "deploy.staging"})
	if err != nil || !next.Approved() || next.GrantID == "" || next.DecidedByType != ActorGrant {
		t.Fatalf("request under a grant: %v %+v", err, next)
	}
	grants, err := b.reader.ListGrants(ctx, GrantListOptions{Action: "deploy.staging"})
	if err != nil || len(grants) != 1 || grants[0].Uses != 1 || grants[0].Active {
		t.Fatalf("grants: %v %+v", err, grants)
	}
	if g, err := b.approver.RevokeGrant(ctx, grants[0].ID); err != nil || g.RevokedAt == nil {
		t.Fatalf("revoke: %v %+v", err, g)
	}

	// Batch decisions report each outcome.
	r1, _ := b.agent.Request(ctx, RequestInput{Action: "batch.a"})
	r2, _ := b.agent.Request(ctx, RequestInput{Action: "batch.b"})
	res, err := b.approver.DecideBatch(ctx, []string{r1.ID, r2.ID, "req_missing"}, DecideInput{Decision: StatusDenied, Reason: "cleanup"})
	if err != nil || len(res) != 3 || !res[0].OK || !res[1].OK || res[2].OK || res[2].Status != 404 || res[0].Request.Status != StatusDenied {
		t.Fatalf("batch: %v %+v", err, res)
	}

	// Groups (admin).
	if _, err := b.admin.SaveGroup(ctx, "oncall", []string{"approver", "slack:U1"}); err != nil {
		t.Fatal(err)
	}
	gs, err := b.admin.ListGroups(ctx)
	if err != nil || len(gs) != 1 || gs[0].Name != "oncall" || len(gs[0].Members) != 2 {
		t.Fatalf("groups: %v %+v", err, gs)
	}
	if _, err := b.approver.ListGroups(ctx); !errors.Is(err, ErrForbidden) {
		t.Errorf("groups without admin: %v", err)
	}
	if err := b.admin.DeleteGroup(ctx, "oncall"); err != nil {
		t.Fatal(err)
	}
	if err := b.admin.DeleteGroup(ctx, "oncall"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}
