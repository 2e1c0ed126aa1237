package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateApprovalsAndEscalation(t *testing.T) {
	human := func(r Rule) Policy {
		if r.Decision == "" {
			r.Decision = RouteToHuman
		}
		return Policy{Name: "p", Enabled: true, Rules: []Rule{r}}
	}
	tests := []struct {
		name    string
		p       Policy
		field   string
		message string
	}{
		{"ok quorum", human(Rule{Approvals: &Quorum{Required: 2, From: []string{"alice", "bob", "carol"}}}), "", ""},
		{"ok quorum with group", human(Rule{Approvals: &Quorum{Required: 3, From: []string{"group:ops"}}}), "", ""},
		{"ok escalation", human(Rule{Escalate: []Escalation{{After: Duration(15 * time.Minute), To: []string{"slack:#oncall"}}, {After: Duration(time.Hour), To: []string{"email:lead@example.com"}}}}), "", ""},
		{"quorum on auto_approve", human(Rule{Decision: AutoApprove, Approvals: &Quorum{Required: 2}}), "rules[0].approvals", "only applies to route_to_human"},
		{"quorum zero", human(Rule{Approvals: &Quorum{Required: 0}}), "rules[0].approvals.required", "between 1 and 50"},
		{"quorum too big", human(Rule{Approvals: &Quorum{Required: 51}}), "rules[0].approvals.required", "between 1 and 50"},
		{"quorum from too short", human(Rule{Approvals: &Quorum{Required: 3, From: []string{"a", "b"}}}), "rules[0].approvals.from", "lists 2 identities but 3"},
		{"quorum empty member", human(Rule{Approvals: &Quorum{Required: 1, From: []string{" "}}}), "rules[0].approvals.from[0]", "must not be empty"},
		{"escalation on auto_deny", human(Rule{Decision: AutoDeny, Escalate: []Escalation{{After: Duration(time.Minute), To: []string{"slack:#x"}}}}), "rules[0].escalate", "only applies to route_to_human"},
		{"escalation without delay", human(Rule{Escalate: []Escalation{{To: []string{"slack:#x"}}}}), "rules[0].escalate[0].after", "positive duration"},
		{"escalation out of order", human(Rule{Escalate: []Escalation{{After: Duration(time.Hour), To: []string{"a"}}, {After: Duration(time.Minute), To: []string{"b"}}}}), "rules[0].escalate[1].after", "later than the previous"},
		{"escalation nowhere", human(Rule{Escalate: []Escalation{{After: Duration(time.Minute)}}}), "rules[0].escalate[0].to", "at least one channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.p)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want a ValidationError", err)
			}
			for _, fe := range ve.Errors {
				if fe.Field == tt.field && strings.Contains(fe.Message, tt.message) {
					return
				}
			}
			t.Fatalf("no error at %s mentioning %q: %v", tt.field, tt.message, err)
		})
	}
}

func TestParseDocumentGroupsAndSteps(t *testing.T) {
	doc, err := ParseDocument("p.yaml", []byte(`
groups:
  ops: [alice, bob, "slack:U123"]
  finance: [carol]
policies:
  - name: payments
    rules:
      - match: {action: pay}
        decision: route_to_human
        approvals: {required: 2, from: ["group:ops"]}
        escalate:
          - {after: 15m, to: ["slack:#oncall"]}
          - {after: 3600, to: ["email:lead@example.com"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Groups["ops"]; len(got) != 3 || got[2] != "slack:U123" {
		t.Errorf("groups = %v", doc.Groups)
	}
	r := doc.Policies[0].Rules[0]
	if r.Approvals == nil || r.Approvals.Required != 2 || r.Approvals.From[0] != "group:ops" {
		t.Errorf("approvals = %+v", r.Approvals)
	}
	if len(r.Escalate) != 2 || time.Duration(r.Escalate[0].After) != 15*time.Minute || time.Duration(r.Escalate[1].After) != time.Hour {
		t.Errorf("escalate = %+v", r.Escalate)
	}
	_, err = ParseDocument("p.yaml", []byte("groups:\n  Bad Name: [a]\n  empty: []\npolicies: []\n"))
	if err == nil || !strings.Contains(err.Error(), "not a valid group name") || !strings.Contains(err.Error(), "groups.empty") {
		t.Errorf("bad groups: %v", err)
	}
	_, err = ParseDocument("p.yaml", []byte("policies:\n  - name: x\n    rules:\n      - decision: route_to_human\n        approvals: {required: 2, form: [a, b]}\n"))
	if err == nil || !strings.Contains(err.Error(), `did you mean "from"`) {
		t.Errorf("typo in approvals: %v", err)
	}
}
