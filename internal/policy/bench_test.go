package policy

import (
	"context"
	"fmt"
	"testing"
)

// benchPolicies builds 100 policies × 5 rules: 90 % of rules pin the action
// (spread over 37 actions, about 12 rules each), 10 % are generic, 10 % carry
// a CEL `when`, and the matchers rotate through every operator.
func benchPolicies() []Policy {
	const nActions = 37
	action := func(i int) string { return fmt.Sprintf("tool_%02d", i%nActions) }
	ps := make([]Policy, 100)
	for i := range ps {
		p := Policy{ID: fmt.Sprintf("pol_%03d", i), Name: fmt.Sprintf("policy %d", i), Priority: i % 10, Enabled: true}
		for j := 0; j < 5; j++ {
			n := i*5 + j
			m := M{}
			if n%10 != 9 {
				m["action"] = action(n * 7)
			} else {
				m["urgency"] = "critical" // generic: visited by every request
			}
			switch n % 8 {
			case 0:
				m["params.amount"] = M{"$gt": 100 + n, "$lte": 10000}
			case 1:
				m["params.env"] = M{"$in": A{"staging", "dev", "preview"}}
			case 2:
				m["params.to"] = M{"$regex": `@(corp|example)\.com$`}
			case 3:
				m["params.path"] = M{"$glob": "/srv/*/data/*.csv"}
			case 4:
				m["params.tags"] = M{"$contains": "pii"}
			case 5:
				m["params.dryRun"] = M{"$exists": false}
				m["params.env"] = M{"$ne": "production"}
			case 6:
				m["context.user.role"] = "admin"
			case 7:
				m["params.items.0.sku"] = M{"$glob": "SKU-*"}
			}
			r := Rule{Match: m, Decision: []Decision{AutoApprove, AutoDeny, RouteToHuman}[n%3]}
			if n%10 == 3 {
				r.When = fmt.Sprintf(`params.amount > %d && params.to.endsWith("@corp.com")`, n)
			}
			p.Rules = append(p.Rules, r)
		}
		ps[i] = p
	}
	return ps
}

// benchInputs is the request mix: an action nobody pinned, pinned actions
// whose rules mostly do not match, and one decided by a rule with a condition.
func benchInputs() []Input {
	mk := func(action, urgency, params string) Input {
		in := withAgent(withContext(req(action, params), `{"user": {"role": "dev"}}`), "key_1", "agent-1")
		in.Urgency = urgency
		return in
	}
	return []Input{
		mk("send_email", "normal", `{"to": "ana@gmail.com", "subject": "hi"}`),
		mk("tool_05", "normal", `{"amount": 25000, "env": "production", "to": "ana@gmail.com", "path": "/srv/a/data/x.csv", "tags": ["a", "b"], "items": [{"sku": "X-1"}]}`),
		mk("tool_30", "critical", `{"amount": 25000, "env": "staging", "dryRun": true, "to": "bob@gmail.com", "path": "/srv/b/data/y.csv", "tags": [], "items": []}`),
		mk("tool_21", "high", `{"amount": 450, "env": "production", "to": "ops@corp.com", "path": "/srv/a/data/x.csv", "tags": ["pii"], "items": [{"sku": "SKU-9"}]}`),
	}
}

// BenchmarkEvaluate evaluates requests for a realistic mix of actions against
// 100 policies × 5 rules; most rules do not match.
func BenchmarkEvaluate(b *testing.B) {
	s, err := Compile(benchPolicies())
	if err != nil {
		b.Fatal(err)
	}
	ins := benchInputs()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Evaluate(ctx, ins[i%len(ins)])
	}
}

// BenchmarkEvaluateRequest breaks BenchmarkEvaluate down by request.
func BenchmarkEvaluateRequest(b *testing.B) {
	s, err := Compile(benchPolicies())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, in := range benchInputs() {
		b.Run(in.Action, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Evaluate(ctx, in)
			}
		})
	}
}

// BenchmarkEvaluateNoIndex is the same workload scanning every rule, to show
// what the action index saves.
func BenchmarkEvaluateNoIndex(b *testing.B) {
	s, err := Compile(benchPolicies())
	if err != nil {
		b.Fatal(err)
	}
	ins := benchInputs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		linearEvaluate(s, ins[i%len(ins)])
	}
}

func BenchmarkCompile(b *testing.B) {
	ps := benchPolicies()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(ps); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchmarkWorkload keeps the benchmark honest: its requests are decided
// by a mix of matches, conditions and the default.
func TestBenchmarkWorkload(t *testing.T) {
	s, err := Compile(benchPolicies())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.rules) != 500 {
		t.Fatalf("%d rules", len(s.rules))
	}
	cel := 0
	for _, r := range s.rules {
		if r.when != nil {
			cel++
		}
	}
	if cel != 50 {
		t.Errorf("%d rules with when, want 50", cel)
	}
	for _, in := range benchInputs() {
		r := s.Evaluate(context.Background(), in)
		// Count the conditions this request actually runs, in evaluation order.
		ran := 0
		d := newDoc(&in)
		for i := range s.rules {
			cr := &s.rules[i]
			if cr.when != nil && s.policies[cr.policy].applies(&in) && cr.match.match(&d) {
				ran++
			}
			if cr.rule == r.Rule {
				break
			}
		}
		t.Logf("%s: %d+%d candidate rules, %d conditions run, %s", in.Action, len(s.byAction[in.Action]), len(s.generic), ran, r.Reason)
	}
}
