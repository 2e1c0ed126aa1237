package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/testserver"
	"github.com/agentgate/agentgate/internal/webhook"
)

// demo is realistic data for the screenshots: agents, people, policies,
// pending requests of every urgency and a few decided ones.
type demo struct {
	aliceKey string // an approver (request:decide, request:read)
	adminKey string // an admin person
	pending  []*approval.Request
	decided  []*approval.Request
}

type demoKey struct {
	name   string
	scopes []auth.Scope
	rate   int
}

func seedDemo(t testing.TB, srv *testserver.Server) *demo {
	t.Helper()
	ctx := context.Background()
	a := srv.App
	sys := approval.Actor{ID: "system", Name: "setup", Type: approval.ActorHuman, Channel: "cli"}
	d := &demo{}
	keys := map[string]*auth.Key{}
	for _, k := range []demoKey{
		{"deploy-bot", []auth.Scope{auth.ScopeRequestCreate, auth.ScopeRequestRead}, 600},
		{"support-agent", []auth.Scope{auth.ScopeRequestCreate, auth.ScopeRequestRead}, 120},
		{"finance-agent", []auth.Scope{auth.ScopeRequestCreate, auth.ScopeRequestRead}, 60},
		{"data-pipeline", []auth.Scope{auth.ScopeRequestCreate}, 0},
		{"bob", []auth.Scope{auth.ScopeRequestDecide, auth.ScopeRequestRead}, 0},
		{"alice", []auth.Scope{auth.ScopeRequestDecide, auth.ScopeRequestRead}, 0},
		{"maria (admin)", []auth.Scope{auth.ScopeAdmin}, 0},
	} {
		in := auth.KeyInput{Name: k.name, Scopes: k.scopes}
		if k.rate > 0 {
			in.RateLimit = &k.rate
		}
		key, plain, err := a.Auth.CreateKey(ctx, sys, in)
		if err != nil {
			t.Fatal(err)
		}
		keys[k.name] = key
		switch k.name {
		case "alice":
			d.aliceKey = plain
		case "maria (admin)":
			d.adminKey = plain
		}
	}
	admin := approval.Actor{ID: keys["maria (admin)"].ID, Name: "maria (admin)", Type: approval.ActorHuman, Channel: "dashboard"}
	if srv.Config.WebhookAllowPrivate {
		// Two subscribers on loopback: one that answers, one that fails.
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/flaky") {
				http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(recv.Close)
		base := recv.URL
		for _, h := range []webhook.Input{
			{URL: base + "/hooks/agentgate", Events: []string{webhook.EventAll}},
			{URL: base + "/ops/flaky", Events: []string{webhook.EventRequestCreated}},
		} {
			if _, _, err := a.Webhooks.Create(ctx, admin, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range []policy.Policy{
		{Name: "Staging deploys go ahead", Priority: 10, Enabled: true, Scope: "global", Rules: []policy.Rule{
			{Match: map[string]any{"action": "deploy_staging"}, Decision: policy.AutoApprove},
		}},
		{Name: "Production changes need a person", Priority: 20, Enabled: true, Scope: "global", Rules: []policy.Rule{
			{Match: map[string]any{"action": "deploy", "params.environment": "production"}, Decision: policy.RouteToHuman, RequireReason: true,
				Timeout: policy.Duration(time.Hour), OnTimeout: "deny"},
			{Match: map[string]any{"action": "run_sql"}, Decision: policy.RouteToHuman, Timeout: policy.Duration(30 * time.Minute)},
		}},
		{Name: "Never delete backups", Priority: 5, Enabled: true, Scope: "global", Rules: []policy.Rule{
			{Match: map[string]any{"action": "delete_backup"}, Decision: policy.AutoDeny},
		}},
		{Name: "Refunds need two approvers", Priority: 30, Enabled: true, Scope: "global", Rules: []policy.Rule{
			{Match: map[string]any{"action": "issue_refund"}, Decision: policy.RouteToHuman, Approvals: &policy.Quorum{Required: 2}},
		}},
		{Name: "Small refunds (draft)", Priority: 25, Enabled: false, Scope: "global", Rules: []policy.Rule{
			{Match: map[string]any{"action": "issue_refund", "params.amount": map[string]any{"$lte": 50}}, Decision: policy.AutoApprove},
		}},
	} {
		if _, err := a.Approvals.CreatePolicy(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
	}
	agent := func(name string) approval.Actor {
		return approval.Actor{ID: keys[name].ID, Name: name, Type: approval.ActorAgent, Channel: "api"}
	}
	create := func(by, action string, urg approval.Urgency, params, rctx map[string]any, expires time.Duration) *approval.Request {
		t.Helper()
		in := approval.CreateInput{Action: action, Urgency: urg, Params: params, Context: rctx}
		if expires > 0 {
			in.ExpiresAt = time.Now().Add(expires)
		}
		r, _, err := a.Approvals.Create(ctx, agent(by), in)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	type obj = map[string]any
	// Decided ones first, so they are the oldest.
	alice := approval.Actor{ID: keys["alice"].ID, Name: "alice", Type: approval.ActorHuman, Channel: "dashboard"}
	bob := approval.Actor{ID: keys["bob"].ID, Name: "bob", Type: approval.ActorHuman, Channel: "slack"}
	r := create("support-agent", "send_email", approval.UrgencyNormal,
		obj{"to": "jordan@northwind.example", "subject": "Your replacement order has shipped", "template": "order_shipped"},
		obj{"ticket": "SUP-4471", "reason": "Customer asked for tracking details"}, 0)
	if r, err := a.Approvals.Decide(ctx, alice, r.ID, approval.DecideInput{Decision: approval.StatusApproved, Reason: "Looks right; tracking number matches the carrier."}); err == nil {
		d.decided = append(d.decided, r)
	}
	r = create("data-pipeline", "run_sql", approval.UrgencyHigh,
		obj{"database": "analytics-prod", "query": "DELETE FROM events WHERE created_at < now() - interval '30 days'"},
		obj{"job": "nightly-retention"}, 0)
	if r, err := a.Approvals.Decide(ctx, bob, r.ID, approval.DecideInput{Decision: approval.StatusDenied, Reason: "Retention is 90 days for this table, not 30. Fix the job config first."}); err == nil {
		d.decided = append(d.decided, r)
	}
	d.decided = append(d.decided,
		create("deploy-bot", "deploy_staging", approval.UrgencyNormal, obj{"service": "web", "version": "v3.8.1"}, obj{}, 0),
		create("data-pipeline", "delete_backup", approval.UrgencyLow, obj{"bucket": "backups-eu", "prefix": "2024/"}, obj{}, 0),
	)
	// Pending: a realistic mix of agents, actions and urgencies.
	d.pending = append(d.pending,
		create("deploy-bot", "deploy", approval.UrgencyCritical,
			obj{"service": "payments-api", "environment": "production", "version": "v2.14.0", "commit": "9f2c1ab", "changes": 14,
				"migrations": []any{"0042_add_refund_index", "0043_backfill_currency"}},
			obj{"reason": "Hotfix for checkout timeouts since 09:12 UTC", "incident": "INC-2291", "requestedBy": "on-call: sam",
				"rollback": obj{"strategy": "blue-green", "previous": "v2.13.4"}}, 50*time.Minute),
		create("finance-agent", "issue_refund", approval.UrgencyHigh,
			obj{"amount": 1250, "currency": "USD", "customer": "cus_8271", "order": "ord_5521", "method": "original_payment"},
			obj{"reason": "Duplicate charge confirmed by the payment processor", "ticket": "FIN-118"}, 4*time.Hour),
		create("support-agent", "send_email", approval.UrgencyHigh,
			obj{"to": "legal@contoso.example", "cc": []any{"support-leads@ourco.example"}, "subject": "Data deletion request #8812 completed",
				"body": "Hello,\n\nWe have deleted all personal data associated with account 8812 as requested under GDPR Article 17. A confirmation certificate is attached.\n\nKind regards,\nSupport"},
			obj{"ticket": "SUP-4502", "confidence": 0.93}, 8*time.Minute),
		create("data-pipeline", "run_sql", approval.UrgencyNormal,
			obj{"database": "crm-prod", "query": "UPDATE accounts SET tier = 'enterprise' WHERE id = 4411", "rows": 1},
			obj{"reason": "Contract signed (Salesforce opp 0065g00000Xyz)"}, 0),
		create("support-agent", "post_to_slack", approval.UrgencyLow,
			obj{"channel": "#customer-updates", "text": "Heads-up: the EU region status page now shows all systems operational."},
			obj{}, 2*time.Hour),
		create("deploy-bot", "scale_cluster", approval.UrgencyNormal,
			obj{"cluster": "gke-prod-eu", "nodePool": "workers", "from": 12, "to": 20},
			obj{"reason": "Queue depth above 10k for 15 minutes", "costPerHourUSD": 11.2}, 90*time.Minute),
	)
	// One of the refund's two approvals is in.
	if _, err := a.Approvals.Decide(ctx, bob, d.pending[1].ID, approval.DecideInput{Decision: approval.StatusApproved, Reason: "Duplicate confirmed in Stripe."}); err != nil {
		t.Fatal(err)
	}
	backdate(t, srv, d)
	return d
}

// backdate spreads the demo's times over the last hours, as a real queue
// would be; the service stamps everything "now".
func backdate(t testing.TB, srv *testserver.Server, d *demo) {
	t.Helper()
	db := srv.App.Store.DB()
	ago := []time.Duration{3 * time.Hour, 2*time.Hour + 10*time.Minute, 95 * time.Minute, 80 * time.Minute,
		47 * time.Minute, 31 * time.Minute, 22 * time.Minute, 12 * time.Minute, 6 * time.Minute, 2 * time.Minute}
	all := append(append([]*approval.Request{}, d.decided...), d.pending...)
	for i, r := range all {
		at := time.Now().Add(-ago[min(i, len(ago)-1)]).UTC()
		for _, q := range []string{
			`UPDATE requests SET created_at = $1, updated_at = $1 WHERE id = $2`,
			`UPDATE requests SET decided_at = $1 WHERE id = $2 AND decided_at IS NOT NULL AND decided_by_type = 'policy'`,
			`UPDATE audit_events SET created_at = $1 WHERE request_id = $2 AND (event_type = 'created' OR actor_type = 'policy')`,
		} {
			if _, err := db.Exec(q, at, r.ID); err != nil {
				t.Fatal(err)
			}
		}
		if r.Status != approval.StatusPending && r.DecidedByType != approval.ActorPolicy {
			dec := at.Add(7 * time.Minute)
			for _, q := range []string{
				`UPDATE requests SET decided_at = $1, updated_at = $1 WHERE id = $2`,
				`UPDATE audit_events SET created_at = $1 WHERE request_id = $2 AND event_type <> 'created'`,
			} {
				if _, err := db.Exec(q, dec, r.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// mustJSON is a test helper for building bodies.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
