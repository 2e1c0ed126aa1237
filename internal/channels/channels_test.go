package channels

import (
	"testing"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/policy"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Target
		ok   bool
	}{
		{"slack:#ops", Target{KindSlack, "#ops"}, true},
		{"Slack:C0123", Target{KindSlack, "C0123"}, true},
		{"discord:112233", Target{KindDiscord, "112233"}, true},
		{"email:ops@example.com", Target{KindEmail, "ops@example.com"}, true},
		{" email: lead@example.com ", Target{KindEmail, "lead@example.com"}, true},
		{"pager:oncall", Target{"pager", "oncall"}, true}, // unknown kinds are the caller's to refuse
		{"email:Ops <ops@example.com>", Target{}, false},
		{"email:not-an-address", Target{}, false},
		{"discord:#general", Target{}, false},
		{"slack:#two words", Target{}, false},
		{"slack:", Target{}, false},
		{"#ops", Target{}, false},
		{"", Target{}, false},
	} {
		got, err := ParseTarget(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestStatusLine(t *testing.T) {
	t.Parallel()
	quorum := approval.PolicyDecision{Approvals: &policy.Quorum{Required: 2}}
	esc := approval.PolicyDecision{Escalate: []policy.Escalation{{}, {}}}
	for _, tc := range []struct {
		name  string
		r     approval.Request
		votes []string
		want  string
	}{
		{"pending", approval.Request{Status: approval.StatusPending}, nil, "Waiting for a decision"},
		{"quorum, no vote", approval.Request{Status: approval.StatusPending, PolicyDecision: quorum}, nil, "Waiting for approvals — 0 of 2 approvals"},
		{"quorum, one vote", approval.Request{Status: approval.StatusPending, PolicyDecision: quorum}, []string{"alice"}, "Waiting for approvals — 1 of 2 approvals: alice"},
		{"escalated", approval.Request{Status: approval.StatusPending, PolicyDecision: esc, EscalationLevel: 1}, nil, "Waiting for a decision (escalated, step 1 of 2)"},
		{"approved by a key", approval.Request{Status: approval.StatusApproved, DecidedBy: "ops-key", DecidedByID: "key_1", DecidedByType: approval.ActorHuman}, nil, "Approved by ops-key"},
		{"denied on Slack", approval.Request{Status: approval.StatusDenied, DecidedBy: "alice", DecidedByID: "slack:U1", DecidedByType: approval.ActorHuman}, nil, "Denied by alice (slack:U1)"},
		{"approved by email", approval.Request{Status: approval.StatusApproved, DecidedBy: "a@b.c", DecidedByID: "email:a@b.c", DecidedByType: approval.ActorHuman}, nil, "Approved by a@b.c"},
		{"label is not a name", approval.Request{Status: approval.StatusApproved, DecidedBy: "ci", DecidedByID: "key_2", DecidedByLabel: "The CEO", DecidedByType: approval.ActorHuman}, nil, "Approved by ci as “The CEO”"},
		{"quorum approved", approval.Request{Status: approval.StatusApproved, DecidedBy: "bob", DecidedByID: "key_3", DecidedByType: approval.ActorHuman, PolicyDecision: quorum}, []string{"alice", "bob"}, "Approved by bob (2 of 2 approvals: alice, bob)"},
		{"edited", approval.Request{Status: approval.StatusApproved, DecidedBy: "bob", DecidedByID: "key_3", DecidedByType: approval.ActorHuman, ApprovedParams: []byte(`{}`)}, nil, "Approved by bob, with edited parameters"},
		{"timeout approve", approval.Request{Status: approval.StatusApproved, DecidedByType: approval.ActorSystem}, nil, "Approved automatically when the request timed out"},
		{"expired", approval.Request{Status: approval.StatusExpired, DecidedByType: approval.ActorSystem}, nil, "Expired: no decision in time"},
	} {
		r := tc.r
		if got := StatusLine(&Message{Request: &r, Approvals: tc.votes}); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTruncateAndPretty(t *testing.T) {
	t.Parallel()
	if got := Truncate("héllo wörld", 6); got != "héllo…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := PrettyJSON([]byte(`{"a":1}`), 100); got != "{\n  \"a\": 1\n}" {
		t.Errorf("PrettyJSON = %q", got)
	}
	if !IsEmptyObject([]byte(" {} ")) || IsEmptyObject([]byte(`{"a":1}`)) {
		t.Error("IsEmptyObject")
	}
}
