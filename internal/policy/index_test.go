package policy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// linearEvaluate is the reference semantics without the action index: every
// rule of every enabled, in-scope policy in priority order.
func linearEvaluate(s *Set, in Input) (policy int32, ruleIndex int) {
	d := newDoc(&in)
	for i := range s.rules {
		r := &s.rules[i]
		if !s.policies[r.policy].applies(&in) || !r.match.match(&d) {
			continue
		}
		if r.when != nil {
			ok, err := evalCondition(context.Background(), r.when, &activation{in: in})
			if err != nil || !ok {
				continue
			}
		}
		return r.policy, r.index
	}
	return -1, -1
}

// The action index must never change which rule decides.
func TestIndexMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	actions := []string{"a", "b", "c", "d", "fs.read", "fs.write"}
	randomMatch := func() M {
		m := M{}
		switch rng.IntN(6) {
		case 0:
			m["action"] = actions[rng.IntN(len(actions))]
		case 1:
			m["action"] = M{"$in": A{actions[rng.IntN(len(actions))], actions[rng.IntN(len(actions))]}}
		case 2:
			m["action"] = M{"$glob": "fs.*"}
		case 3:
			m["action"] = M{"$eq": actions[rng.IntN(len(actions))], "$ne": "b"}
		}
		if rng.IntN(2) == 0 {
			m["n"] = M{"$gt": rng.IntN(10)}
		}
		if rng.IntN(4) == 0 {
			m["urgency"] = "high"
		}
		return m
	}
	for iter := 0; iter < 200; iter++ {
		var ps []Policy
		for i := 0; i < 1+rng.IntN(8); i++ {
			p := Policy{Name: fmt.Sprintf("p%d", i), Priority: rng.IntN(3), Enabled: rng.IntN(5) != 0}
			if rng.IntN(5) == 0 {
				p.Scope, p.ToolIDs = ScopePerTool, []string{"fs.*"}
			}
			for j := 0; j < 1+rng.IntN(4); j++ {
				r := Rule{Match: randomMatch(), Decision: []Decision{AutoApprove, AutoDeny, RouteToHuman}[rng.IntN(3)]}
				if rng.IntN(8) == 0 {
					r.When = "params.n >= 6"
				}
				p.Rules = append(p.Rules, r)
			}
			ps = append(ps, p)
		}
		s, err := Compile(ps)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 20; k++ {
			in := Input{
				Action:  actions[rng.IntN(len(actions))],
				Params:  M{"n": float64(rng.IntN(12))},
				Urgency: []string{"normal", "high"}[rng.IntN(2)],
			}
			got := s.Evaluate(context.Background(), in)
			wantPolicy, wantRule := linearEvaluate(s, in)
			gotPolicy := int32(-1)
			if got.Rule != nil {
				for pi, cp := range s.policies {
					if cp.src.Name == got.PolicyName {
						gotPolicy = int32(pi)
					}
				}
			}
			if gotPolicy != wantPolicy || got.RuleIndex != wantRule {
				t.Fatalf("iteration %d: indexed (%d, %d) != linear (%d, %d) for %+v", iter, gotPolicy, got.RuleIndex, wantPolicy, wantRule, in)
			}
		}
	}
}
