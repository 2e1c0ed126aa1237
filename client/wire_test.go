package client

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/wire"
)

// TestWireShapes encodes the server's wire types with every field set,
// decodes them into the SDK's types and encodes those again: any field the
// SDK does not know (a server change the SDK missed) shows up as a
// difference.
func TestWireShapes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	ruleIndex := 2
	req := &approval.Request{
		ID: "req_1", Action: "send_email", Params: json.RawMessage(`{"n":12345678901234567890}`),
		Context: json.RawMessage(`{"why":"x"}`), Urgency: approval.UrgencyHigh, Status: approval.StatusPending,
		CreatedAt: now, UpdatedAt: now, DecidedAt: now, DecidedBy: "alice", DecidedByID: "key_2",
		DecidedByType: approval.ActorHuman, DecidedByLabel: "on call", DecisionReason: "ok",
		ExpiresAt: now.Add(time.Hour),
		PolicyDecision: approval.PolicyDecision{Decision: "route_to_human", PolicyID: "pol_1", PolicyName: "p",
			RuleIndex: &ruleIndex, Reason: "matched", Approvers: []string{"alice"}, Channels: []string{"slack"},
			RequireReason: true, OnTimeout: "deny"},
		AgentID: "key_1", AgentName: "agent",
	}
	rl := 10
	seq := int64(7)
	cases := []struct {
		name string
		wire any
		sdk  any
	}{
		{"request", wire.ToRequest(req, now), &Request{}},
		{"audit event", wire.AuditEvent{ID: "9", RequestID: wire.StrPtr("req_1"), EventType: "approved", Actor: "alice",
			ActorID: "key_2", ActorType: approval.ActorHuman, Details: json.RawMessage(`{"a":1}`), CreatedAt: wire.Time(now),
			Seq: &seq, Hash: "abc", Request: &wire.RequestSummary{ID: "req_1", Action: "a", Status: "approved", Urgency: "low"}}, &AuditEvent{}},
		{"key", wire.ToKey(&auth.Key{ID: "key_1", Name: "k", Prefix: "agk_abc", Scopes: []auth.Scope{auth.ScopeAdmin},
			RateLimit: &rl, CreatedAt: now, CreatedBy: "admin", LastUsedAt: now, RevokedAt: now}), &Key{}},
		{"created key", wire.CreatedKey{Key: wire.ToKey(&auth.Key{ID: "key_1", Name: "k", Prefix: "agk_abc",
			Scopes: []auth.Scope{auth.ScopeAdmin}, CreatedAt: now, CreatedBy: "admin", LastUsedAt: now, RevokedAt: now}),
			Secret: "agk_secret"}, &CreatedKey{}},
		{"policy", wire.ToPolicy(&approval.StoredPolicy{Policy: policy.Policy{ID: "pol_1", Name: "p", Priority: 3, Enabled: true,
			Scope: "per_agent", AgentIDs: []string{"key_1"}, ToolIDs: []string{"deploy"}, Rules: []policy.Rule{{
				Match: map[string]any{"action": "deploy"}, When: "true", Decision: policy.RouteToHuman, Approvers: []string{"a"},
				Channels: []string{"email"}, RequireReason: true, Timeout: policy.Duration(90 * time.Second), OnTimeout: "deny"}}},
			Source: "api", CreatedAt: now, UpdatedAt: now}), &Policy{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			serverJSON, err := json.Marshal(tc.wire)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(serverJSON, tc.sdk); err != nil {
				t.Fatalf("decode %s: %v", serverJSON, err)
			}
			sdkJSON, err := json.Marshal(tc.sdk)
			if err != nil {
				t.Fatal(err)
			}
			var want, got map[string]any
			_ = json.Unmarshal(serverJSON, &want)
			_ = json.Unmarshal(sdkJSON, &got)
			// The wire's "message" on a created key is prose for people.
			delete(want, "message")
			if d := cmp.Diff(normalizeTimes(want), normalizeTimes(got)); d != "" {
				t.Errorf("server JSON vs SDK round trip (-server +sdk):\n%s", d)
			}
		})
	}
}

// normalizeTimes rewrites RFC 3339 strings to one format: the server
// always writes milliseconds, Go's encoder trims trailing zeros.
func normalizeTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeTimes(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeTimes(e)
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	}
	return v
}
