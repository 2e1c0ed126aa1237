package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// checkResult asserts the invariants every Result must satisfy.
func checkResult(t *testing.T, s *Set, r Result) {
	t.Helper()
	switch r.Decision {
	case AutoApprove, AutoDeny, RouteToHuman:
	default:
		t.Fatalf("invalid decision %q", r.Decision)
	}
	if (r.Rule == nil) != (r.RuleIndex < 0) {
		t.Fatalf("Rule %v vs RuleIndex %d", r.Rule, r.RuleIndex)
	}
	if r.RuleIndex < -1 || r.Reason == "" {
		t.Fatalf("bad result %+v", r)
	}
	if r.Rule != nil {
		for _, p := range s.Policies() {
			if p.Name == r.PolicyName && r.RuleIndex < len(p.Rules) {
				return
			}
		}
		t.Fatalf("result names a rule that does not exist: %+v", r)
	}
}

func checkValidationError(t *testing.T, err error) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) == 0 {
		t.Fatalf("error is not a non-empty *ValidationError: %v", err)
	}
	for _, fe := range ve.Errors {
		if fe.Message == "" {
			t.Fatalf("FieldError without a message: %+v", fe)
		}
	}
	_ = err.Error()
}

var fuzzPolicySeeds = []string{
	`[{"name":"p","enabled":true,"rules":[{"match":{"action":"send_email","to":{"$regex":"@example\\.com$"}},"decision":"auto_approve"}]}]`,
	`[{"name":"p","priority":1,"enabled":true,"scope":"per_agent","agentIds":["a"],"rules":[{"match":{},"decision":"auto_deny"}]}]`,
	`[{"name":"p","enabled":true,"scope":"per_tool","toolIds":["fs.*"],"rules":[{"match":{"path":{"$glob":"/tmp/*"}},"decision":"route_to_agent","timeout":"15m","onTimeout":"deny"}]}]`,
	`[{"name":"p","enabled":true,"rules":[{"match":{"amount":{"$gt":1,"$lt":10,"$ne":5}},"when":"params.amount > 2","decision":"auto_deny","timeout":900}]}]`,
	`{"name":"p","enabled":true,"rules":[{"match":{"$or":[{"a":{"$in":[1,"x",null]}},{"b":{"$not":{"$exists":true}}}]},"decision":"auto_approve"}]}`,
	`[{"name":"p","enabled":true,"rules":[{"match":{"items.0.tags":{"$contains":"pii"},"context.user.role":"admin","agent.id":"k"},"decision":"route_to_human"}]}]`,
	`[{"name":"p","rules":[{"match":{"x":{"$regex":"(?<=a)b"}},"when":"params.","decision":"maybe"}],"scope":"weird"}]`,
	`[{"name":"","rules":[{"match":{"x":[1],"y":{"a":1},"z":{"$foo":1}}}]}]`,
	`[{"name":"p","enabled":true,"rules":[{"match":{"$and":[{"$or":[{"a":1}]},{"b":{"$eq":{"c":[1,2,{"d":null}]}}}]},"decision":"auto_deny"}]}]`,
}

// FuzzCompile: arbitrary JSON decoded into policies never makes Compile (or
// Validate, or Evaluate on what compiled) panic, and errors are well-formed.
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzPolicySeeds {
		f.Add([]byte(s))
	}
	for _, tp := range Templates() {
		b, err := json.Marshal([]Policy{tp.Policy})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	inputs := []Input{
		req("send_email", `{"to": "a@example.com", "amount": 5, "items": [{"tags": ["pii"]}]}`),
		withAgent(withContext(req("fs.write", `{"path": "/tmp/x"}`), `{"user": {"role": "admin"}}`), "a", "k"),
		{},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ps []Policy
		if err := json.Unmarshal(data, &ps); err != nil {
			var p Policy
			if json.Unmarshal(data, &p) != nil {
				return
			}
			ps = []Policy{p}
		}
		s, err := Compile(ps)
		if err != nil {
			checkValidationError(t, err)
			return
		}
		for _, p := range ps {
			if err := Validate(p); err != nil {
				t.Fatalf("Compile accepted a policy Validate rejects: %v", err)
			}
		}
		for _, in := range inputs {
			checkResult(t, s, s.Evaluate(context.Background(), in))
		}
		if got := s.Policies(); len(got) != len(ps) || s.Len() != len(ps) {
			t.Fatalf("Policies() has %d entries, want %d", len(got), len(ps))
		}
	})
}

// FuzzEvaluate: arbitrary rules and an arbitrary request never make Evaluate
// panic or hang, with numbers decoded both as float64 and as json.Number.
func FuzzEvaluate(f *testing.F) {
	requests := []string{
		`{"action":"send_email","params":{"to":"a@example.com","amount":5},"urgency":"high","agent":{"id":"a","name":"bot"}}`,
		`{"action":"fs.write","params":{"path":"/tmp/x","items":[{"sku":"A","tags":["pii"]}]},"context":{"user":{"role":"admin"}}}`,
		`{"action":"payment","params":{"amount":"50","action":"read","status":"approved","params":{"to":"x"}}}`,
		`{"action":"","params":{"amount":1e308,"n":-0,"big":12345678901234567890}}`,
	}
	for i, s := range fuzzPolicySeeds {
		var ps []Policy
		if json.Unmarshal([]byte(s), &ps) != nil || len(ps) == 0 {
			continue
		}
		rules, _ := json.Marshal(ps[0].Rules)
		f.Add(rules, []byte(requests[i%len(requests)]))
	}
	f.Add([]byte(`[{"when":"params.items.all(x, params.items.all(y, x == y))","decision":"auto_deny"},{"decision":"auto_approve"}]`),
		[]byte(`{"action":"x","params":{"items":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}}`))
	f.Add([]byte(`[{"match":{"params":{"$eq":{"a":[1,{"b":null}]}},"a.1.b":null},"decision":"auto_deny"}]`),
		[]byte(`{"action":"x","params":{"a":[1,{"b":null}]}}`))

	type request struct {
		Action  string         `json:"action"`
		Params  map[string]any `json:"params"`
		Context map[string]any `json:"context"`
		Urgency string         `json:"urgency"`
		Agent   struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"agent"`
	}
	f.Fuzz(func(t *testing.T, rulesJSON, requestJSON []byte) {
		var rules []Rule
		if json.Unmarshal(rulesJSON, &rules) != nil {
			return
		}
		s, err := Compile([]Policy{{Name: "fuzz", Enabled: true, Rules: rules}})
		if err != nil {
			checkValidationError(t, err)
			return
		}
		for _, useNumber := range []bool{false, true} {
			var r request
			dec := json.NewDecoder(bytes.NewReader(requestJSON))
			if useNumber {
				dec.UseNumber()
			}
			if dec.Decode(&r) != nil {
				return
			}
			in := Input{
				Action: r.Action, Params: r.Params, Context: r.Context, Urgency: r.Urgency,
				Agent: Agent{ID: r.Agent.ID, Name: r.Agent.Name},
				Now:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			checkResult(t, s, s.Evaluate(ctx, in))
			cancel()
		}
	})
}

// FuzzParseFile: arbitrary bytes as YAML and as JSON never make ParseFile
// panic; what it accepts compiles.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(goodYAML))
	for _, s := range fuzzPolicySeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte("policies:\n  - name: a\n    rules: [&r {decision: auto_deny}]\n  - name: b\n    rules: [*r]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.yaml", "f.json"} {
			ps, err := ParseFile(name, data)
			if err != nil {
				checkValidationError(t, err)
				continue
			}
			if _, err := Compile(ps); err != nil {
				t.Fatalf("ParseFile accepted policies Compile rejects: %v", err)
			}
		}
	})
}
