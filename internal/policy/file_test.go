package policy

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const goodYAML = `# Policies as code.
policies:
  - id: pol_pay
    name: payments
    priority: 10
    rules:
      - match:
          action: payment
          params.amount: {$gt: 10000}
        decision: auto_deny
      - match:
          action: payment
          amount: {$gte: 0, $lte: 100}
        decision: auto_approve
      - match: {action: payment}
        when: params.currency != "EUR"
        decision: route_to_human
        approvers: [finance]
        requireReason: true
        timeout: 1h30m
        onTimeout: deny
  - name: deploys
    scope: per_tool
    toolIds: ["deploy*"]
    enabled: false
    rules:
      - decision: route_to_agent
        timeout: 900
`

func wantGoodPolicies() []Policy {
	return []Policy{
		{
			ID: "pol_pay", Name: "payments", Priority: 10, Enabled: true,
			Rules: []Rule{
				{Match: M{"action": "payment", "params.amount": M{"$gt": 10000}}, Decision: AutoDeny},
				{Match: M{"action": "payment", "amount": M{"$gte": 0, "$lte": 100}}, Decision: AutoApprove},
				{Match: M{"action": "payment"}, When: `params.currency != "EUR"`, Decision: RouteToHuman,
					Approvers: []string{"finance"}, RequireReason: true, Timeout: Duration(90 * time.Minute), OnTimeout: "deny"},
			},
		},
		{
			Name: "deploys", Priority: 100, Enabled: false, Scope: ScopePerTool, ToolIDs: []string{"deploy*"},
			Rules: []Rule{{Decision: "route_to_agent", Timeout: Duration(15 * time.Minute)}},
		},
	}
}

// normalise makes decoded YAML/JSON numbers comparable (int vs json.Number).
func normalise(t *testing.T, ps []Policy) []Policy {
	t.Helper()
	b, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	var out []Policy
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseFileYAML(t *testing.T) {
	got, err := ParseFile("policies.yaml", []byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	if g, w := normalise(t, got), normalise(t, wantGoodPolicies()); !reflect.DeepEqual(g, w) {
		t.Errorf("ParseFile =\n%+v\nwant\n%+v", g, w)
	}
	s, err := Compile(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		params string
		want   Decision
	}{
		{`{"amount": 50000}`, AutoDeny},
		{`{"amount": 50}`, AutoApprove},
		{`{"amount": 500, "currency": "USD"}`, RouteToHuman},
	} {
		if r := s.Evaluate(context.Background(), req("payment", tc.params)); r.Decision != tc.want {
			t.Errorf("%s: %+v", tc.params, r)
		}
	}
}

func TestParseFileJSON(t *testing.T) {
	want := wantGoodPolicies()
	list, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	wrapped := []byte(`{"policies": ` + string(list) + `}`)
	for name, data := range map[string][]byte{"list.json": list, "wrapped.json": wrapped, "sniffed": list} {
		got, err := ParseFile(name, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if g, w := normalise(t, got), normalise(t, want); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: ParseFile =\n%+v\nwant\n%+v", name, g, w)
		}
	}
}

func TestParseFileYAMLListAndEmpty(t *testing.T) {
	got, err := ParseFile("p.yml", []byte("- name: all\n  rules: [{decision: auto_deny}]\n"))
	if err != nil || len(got) != 1 || got[0].Name != "all" || !got[0].Enabled || got[0].Priority != 100 {
		t.Errorf("list form: %+v, %v", got, err)
	}
	for _, empty := range []string{"", "# nothing\n", "policies:\n", "null"} {
		got, err := ParseFile("p.yaml", []byte(empty))
		if err != nil || len(got) != 0 {
			t.Errorf("%q: %+v, %v", empty, got, err)
		}
	}
	// Anchors and aliases resolve.
	got, err = ParseFile("p.yaml", []byte("common: &c {decision: auto_deny}\n"))
	if err == nil {
		t.Errorf("unknown top-level key accepted: %+v", got)
	}
	got, err = ParseFile("p.yaml", []byte("- name: a\n  rules: [&r {decision: auto_deny}]\n- name: b\n  rules: [*r]\n"))
	if err != nil || got[1].Rules[0].Decision != AutoDeny {
		t.Errorf("aliases: %+v, %v", got, err)
	}
}

type wantFileErr struct {
	line     int
	policy   int
	field    string
	fragment string
}

func checkFileErrors(t *testing.T, err error, want []wantFileErr) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want *ValidationError", err)
	}
	if len(ve.Errors) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(ve.Errors), len(want), strings.ReplaceAll(err.Error(), "; ", "\n"))
	}
	for i, w := range want {
		g := ve.Errors[i]
		if g.Line != w.line || g.PolicyIndex != w.policy || g.Field != w.field || !strings.Contains(g.Message, w.fragment) {
			t.Errorf("error %d = {line %d, policy %d, field %q, %q}\nwant {line %d, policy %d, field %q, contains %q}",
				i, g.Line, g.PolicyIndex, g.Field, g.Message, w.line, w.policy, w.field, w.fragment)
		}
	}
}

func TestParseFileYAMLErrorLines(t *testing.T) {
	const bad = `policies:
  - name: payments
    priority: high
    rules:
      - match:
          amount: {$gt: "100"}
          to: {$regex: "(?<=@)corp"}
        decison: auto_deny
      - match: {action: pay}
        decision: maybe
        timeout: soon
  - name: scoped
    scope: per_agent
    rules:
      - decision: auto_approve
        when: params.flag
  - rules: []
  - "just a string"
`
	_, err := ParseFile("bad.yaml", []byte(bad))
	checkFileErrors(t, err, []wantFileErr{
		{3, 0, "priority", `must be an integer, got string "high"`},
		{5, 0, "rules[0].decision", "is required"},
		{6, 0, `rules[0].match["amount"]`, "$gt needs a number, got string"},
		{7, 0, `rules[0].match["to"]`, `$regex: look-behind "(?<=" is not supported (RE2, linear time)`},
		{8, 0, "rules[0].decison", `unknown field (did you mean "decision"?)`},
		{10, 0, "rules[1].decision", `unknown decision "maybe"`},
		{11, 0, "rules[1].timeout", `invalid timeout "soon"`},
		{12, 1, "agentIds", "needs at least one agent id"},
		{16, 1, "rules[0].when", "must be a boolean expression"},
		{17, 2, "name", "must not be empty"},
		{17, 2, "rules", "at least one rule is required"},
		{18, 3, "", "must be an object (a policy), got string"},
	})
	if !strings.HasPrefix(err.Error(), `bad.yaml:3: policy "payments" priority: must be an integer`) {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestParseFileJSONErrorLines(t *testing.T) {
	const bad = `[
  {
    "name": "payments",
    "rules": [
      {"match": {"amount": {"$in": 5}}, "decision": "auto_deny"},
      {
        "match": {"x": 1},
        "decision": "auto_approve",
        "decision": "auto_deny",
        "channel": ["slack"]
      }
    ]
  }
]`
	_, err := ParseFile("bad.json", []byte(bad))
	checkFileErrors(t, err, []wantFileErr{
		{9, -1, "", `duplicate key "decision" in policies[0].rules[1]`},
		{5, 0, `rules[0].match["amount"]`, "$in needs an array, got number"},
		{10, 0, "rules[1].channel", `did you mean "channels"?`},
	})
}

func TestParseFileSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		line       int
		fragment   string
	}{
		{"p.yaml", "policies:\n  - name: a\n    rules: [\n  bad: : :\n", 3, "invalid YAML: did not find expected node content"},
		{"p.yaml", "- name: a\n  rules: []\n---\n- name: b\n", 3, "multiple YAML documents"},
		{"p.yaml", "- name: a\n\tname: b\n", 2, "invalid YAML"},
		{"p.json", "[\n  {\"name\": \"a\",\n   \"rules\": [}\n]", 3, "invalid JSON"},
		{"p.json", "[]\n[]", 2, "unexpected data after the top-level JSON value"},
		{"p.json", "[\n", 2, "invalid JSON"},
		{"p.yaml", "name: a\n", 1, `unknown top-level key "name"`},
		{"p.yaml", "42\n", 1, "expected a list of policies"},
		{"p.yaml", "policies: {name: a}\n", 1, `"policies" must be a list`},
	} {
		_, err := ParseFile(tc.name, []byte(tc.data))
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Errors) != 1 {
			t.Errorf("%q: error = %v", tc.data, err)
			continue
		}
		if g := ve.Errors[0]; g.Line != tc.line || g.PolicyIndex != -1 || g.File != tc.name || !strings.Contains(g.Message, tc.fragment) {
			t.Errorf("%q: got %+v, want line %d containing %q", tc.data, g, tc.line, tc.fragment)
		}
	}
}

func TestParseFileWrongTypes(t *testing.T) {
	const bad = `- name: 5
  enabled: "yes"
  agentIds: a
  toolIds: [1]
  rules:
    - match: [a]
      approvers: [ops, 2]
      requireReason: 1
      when: 5
      timeout: 1.5
    - 7
`
	_, err := ParseFile("t.yaml", []byte(bad))
	checkFileErrors(t, err, []wantFileErr{
		{1, 0, "name", "must be a string, got number"},
		{2, 0, "enabled", `must be true or false, got string`},
		{3, 0, "agentIds", "must be a list of strings, got string"},
		{4, 0, "toolIds[0]", "must be a string, got number"},
		{6, 0, "rules[0].match", "must be an object mapping paths to matchers, got array"},
		{6, 0, "rules[0].decision", "is required"},
		{7, 0, "rules[0].approvers[1]", "must be a string, got number"},
		{8, 0, "rules[0].requireReason", "must be true or false, got number"},
		{9, 0, "rules[0].when", "must be a string, got number"},
		{10, 0, "rules[0].timeout", `invalid timeout 1.5: must be a duration string like "15m"`},
		{11, 0, "rules[1]", "must be an object (a rule), got number"},
	})
}

func TestParseFileNonStringKeys(t *testing.T) {
	const bad = `- name: keys
  rules:
    - match: {params.a: {$eq: {1: x}}}
      decision: auto_deny
    - match: {$or: [{2: y}]}
      decision: auto_deny
`
	_, err := ParseFile("k.yaml", []byte(bad))
	checkFileErrors(t, err, []wantFileErr{
		{3, 0, `rules[0].match["params.a"]`, "object keys must be strings, got number"},
		{5, 0, `rules[1].match.$or[0]`, "object keys must be strings, got number"},
	})
}

func TestDurationEncoding(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Duration
		err  bool
	}{
		{`"15m"`, Duration(15 * time.Minute), false},
		{`"1h30m"`, Duration(90 * time.Minute), false},
		{`900`, Duration(15 * time.Minute), false},
		{`null`, 0, false},
		{`-60`, Duration(-time.Minute), false}, // decodes; Validate rejects it
		{`1.5`, 0, true},
		{`"soon"`, 0, true},
		{`"90"`, 0, true},
		{`99999999999999999`, 0, true},
		{`true`, 0, true},
	} {
		var d Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		if (err != nil) != tc.err || d != tc.want {
			t.Errorf("UnmarshalJSON(%s) = %v, %v; want %v, error %v", tc.in, d, err, tc.want, tc.err)
		}
	}
	b, err := json.Marshal(Rule{Decision: AutoDeny, Timeout: Duration(15 * time.Minute)})
	if err != nil || !strings.Contains(string(b), `"timeout":"15m0s"`) {
		t.Errorf("MarshalJSON = %s, %v", b, err)
	}
	b, _ = json.Marshal(Rule{Decision: AutoDeny})
	if strings.Contains(string(b), "timeout") {
		t.Errorf("zero timeout encoded: %s", b)
	}

	var r struct {
		A Duration `yaml:"a"`
		B Duration `yaml:"b"`
		C Duration `yaml:"c"`
	}
	if err := yaml.Unmarshal([]byte("a: 2h\nb: 60\nc: ~\n"), &r); err != nil || r.A != Duration(2*time.Hour) || r.B != Duration(time.Minute) || r.C != 0 {
		t.Errorf("UnmarshalYAML = %+v, %v", r, err)
	}
	if err := yaml.Unmarshal([]byte("a: [1]\n"), &r); err == nil {
		t.Error("UnmarshalYAML accepted a list")
	}
	out, err := yaml.Marshal(Rule{Decision: AutoDeny, Timeout: Duration(time.Hour)})
	if err != nil || !strings.Contains(string(out), "timeout: 1h0m0s") {
		t.Errorf("MarshalYAML = %s, %v", out, err)
	}
}

// The wire form decodes straight into Policy with encoding/json.
func TestPolicyJSONWireForm(t *testing.T) {
	const wire = `{"id":"p1","name":"n","priority":5,"enabled":true,"scope":"per_tool","toolIds":["fs.*"],
	  "rules":[{"match":{"path":{"$glob":"/tmp/*"}},"decision":"auto_approve","timeout":"10m","onTimeout":"expire"}]}`
	var p Policy
	if err := json.Unmarshal([]byte(wire), &p); err != nil {
		t.Fatal(err)
	}
	s, err := Compile([]Policy{p})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Evaluate(context.Background(), req("fs.write", `{"path": "/tmp/x"}`)); r.Decision != AutoApprove || r.Rule.Timeout != Duration(10*time.Minute) {
		t.Errorf("got %+v", r)
	}
}
