package policy

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// wantErr is one expected FieldError: its exact Field and a message fragment.
type wantErr struct {
	field    string
	fragment string
}

// one builds a valid policy named "payments" around a single rule.
func one(r Rule) Policy {
	return Policy{Name: "payments", Enabled: true, Rules: []Rule{r}}
}

func matchRule(m M) Rule { return Rule{Match: m, Decision: AutoApprove} }

func TestValidateErrors(t *testing.T) {
	cases := []struct {
		name string
		p    Policy
		want []wantErr
	}{
		{"unknown operator", one(matchRule(M{"amount": M{"$foo": 1}})),
			[]wantErr{{`rules[0].match["amount"]`, `unknown operator "$foo"`}}},
		{"regex look-ahead", one(matchRule(M{"to": M{"$regex": `^(?=.*@)x`}})),
			[]wantErr{{`rules[0].match["to"]`, `$regex: look-ahead "(?=" is not supported (RE2, linear time)`}}},
		{"regex negative look-ahead", one(matchRule(M{"to": M{"$regex": `^(?!admin)`}})),
			[]wantErr{{`rules[0].match["to"]`, `$regex: negative look-ahead "(?!" is not supported`}}},
		{"regex look-behind", one(matchRule(M{"to": M{"$regex": `(?<=@)corp`}})),
			[]wantErr{{`rules[0].match["to"]`, `$regex: look-behind "(?<=" is not supported (RE2, linear time)`}}},
		{"regex negative look-behind", one(matchRule(M{"to": M{"$regex": `(?<!@)corp`}})),
			[]wantErr{{`rules[0].match["to"]`, `$regex: negative look-behind "(?<!" is not supported`}}},
		{"regex back-reference", one(matchRule(M{"s": M{"$regex": `(a)\1`}})),
			[]wantErr{{`rules[0].match["s"]`, `$regex: back-reference "\\1" is not supported`}}},
		{"regex named back-reference", one(matchRule(M{"s": M{"$regex": `(?P<x>a)(?P=x)`}})),
			[]wantErr{{`rules[0].match["s"]`, `named back-reference "(?P=" is not supported`}}},
		{"regex \\k back-reference", one(matchRule(M{"s": M{"$regex": `(?<x>a)\k<x>`}})),
			[]wantErr{{`rules[0].match["s"]`, `back-reference "\\k<" is not supported`}}},
		{"regex possessive quantifier", one(matchRule(M{"s": M{"$regex": `a*+b`}})),
			[]wantErr{{`rules[0].match["s"]`, `possessive quantifier "*+" is not supported`}}},
		{"regex possessive counted quantifier", one(matchRule(M{"s": M{"$regex": `a{2,3}+`}})),
			[]wantErr{{`rules[0].match["s"]`, `possessive quantifier "{2,3}+"`}}},
		{"regex atomic group", one(matchRule(M{"s": M{"$regex": `(?>a+)b`}})),
			[]wantErr{{`rules[0].match["s"]`, `atomic group "(?>" is not supported`}}},
		{"regex unbalanced paren", one(matchRule(M{"s": M{"$regex": `(abc`}})),
			[]wantErr{{`rules[0].match["s"]`, "$regex: invalid pattern: error parsing regexp: missing closing )"}}},
		{"regex unclosed class", one(matchRule(M{"s": M{"$regex": `[invalid`}})),
			[]wantErr{{`rules[0].match["s"]`, "missing closing ]"}}},
		{"regex not a string", one(matchRule(M{"s": M{"$regex": 5}})),
			[]wantErr{{`rules[0].match["s"]`, "$regex needs a string pattern, got number"}}},
		{"glob unfinished escape", one(matchRule(M{"s": M{"$glob": `abc\`}})),
			[]wantErr{{`rules[0].match["s"]`, `$glob: pattern ends with an unfinished escape`}}},
		{"glob not a string", one(matchRule(M{"s": M{"$glob": true}})),
			[]wantErr{{`rules[0].match["s"]`, "$glob needs a string pattern, got bool true"}}},
		{"$gt with a string", one(matchRule(M{"amount": M{"$gt": "5"}})),
			[]wantErr{{`rules[0].match["amount"]`, "$gt needs a number, got string"}}},
		{"$lte with a bool", one(matchRule(M{"amount": M{"$lte": false}})),
			[]wantErr{{`rules[0].match["amount"]`, "$lte needs a number, got bool"}}},
		{"$lt with NaN", one(matchRule(M{"amount": M{"$lt": math.NaN()}})),
			[]wantErr{{`rules[0].match["amount"]`, "number must be finite"}}},
		{"$in not an array", one(matchRule(M{"c": M{"$in": "a,b"}})),
			[]wantErr{{`rules[0].match["c"]`, `$in needs an array, got string "a,b"`}}},
		{"$nin not an array", one(matchRule(M{"c": M{"$nin": M{"a": 1}}})),
			[]wantErr{{`rules[0].match["c"]`, "$nin needs an array, got object"}}},
		{"$exists not a bool", one(matchRule(M{"c": M{"$exists": "yes"}})),
			[]wantErr{{`rules[0].match["c"]`, `$exists needs true or false, got string "yes"`}}},
		{"$not not an operator object", one(matchRule(M{"c": M{"$not": 5}})),
			[]wantErr{{`rules[0].match["c"]`, `$not needs an operator object`}}},
		{"$not with a bad inner operator", one(matchRule(M{"c": M{"$not": M{"$gt": "x"}}})),
			[]wantErr{{`rules[0].match["c"]`, `$not: $gt needs a number`}}},
		{"$and under a field", one(matchRule(M{"c": M{"$and": A{M{"a": 1}}}})),
			[]wantErr{{`rules[0].match["c"]`, `$and is only allowed at the top of match`}}},
		{"$or empty", one(matchRule(M{"$or": A{}})),
			[]wantErr{{`rules[0].match.$or`, `$or needs a non-empty array of match objects`}}},
		{"$or entry not an object", one(matchRule(M{"$or": A{M{"a": 1}, "b"}})),
			[]wantErr{{`rules[0].match.$or[1]`, `$or entries must be match objects, got string`}}},
		{"error inside $or names the branch", one(matchRule(M{"$or": A{M{"a": 1}, M{"n": M{"$gt": "1"}}}})),
			[]wantErr{{`rules[0].match.$or[1]["n"]`, `$gt needs a number`}}},
		{"$not at the top of match", one(matchRule(M{"$not": M{"a": 1}})),
			[]wantErr{{`rules[0].match.$not`, `$not must be under a field`}}},
		{"unknown top-level operator", one(matchRule(M{"$where": "1"})),
			[]wantErr{{`rules[0].match.$where`, `unknown operator "$where"`}}},
		{"array shorthand is ambiguous", one(matchRule(M{"tags": A{"a"}})),
			[]wantErr{{`rules[0].match["tags"]`, "an array value is ambiguous"}}},
		{"object shorthand is ambiguous", one(matchRule(M{"o": M{"a": 1}})),
			[]wantErr{{`rules[0].match["o"]`, "an object value is ambiguous"}}},
		{"empty object is ambiguous", one(matchRule(M{"o": M{}})),
			[]wantErr{{`rules[0].match["o"]`, "an empty object is ambiguous"}}},
		{"operators mixed with plain keys", one(matchRule(M{"o": M{"$gt": 1, "a": 2}})),
			[]wantErr{{`rules[0].match["o"]`, "mixes operators with plain keys"}}},
		{"empty path segment", one(matchRule(M{"params..to": "x"})),
			[]wantErr{{`rules[0].match["params..to"]`, "empty segment in path"}}},
		{"field of a string top-level", one(matchRule(M{"action.name": "x"})),
			[]wantErr{{`rules[0].match["action.name"]`, `action is a string; it has no field "name"`}}},
		{"unknown agent field", one(matchRule(M{"agent.role": "x"})),
			[]wantErr{{`rules[0].match["agent.role"]`, `agent has only "id" and "name"`}}},
		{"unsupported Go value", one(matchRule(M{"a": struct{}{}})),
			[]wantErr{{`rules[0].match["a"]`, "unsupported value of Go type struct {}"}}},
		{"CEL undeclared variable", one(Rule{When: `amount > 5`, Decision: AutoDeny}),
			[]wantErr{{"rules[0].when", "undeclared reference to 'amount'"}}},
		{"CEL type error", one(Rule{When: `action + 1 == 2`, Decision: AutoDeny}),
			[]wantErr{{"rules[0].when", "found no matching overload for '_+_'"}}},
		{"CEL syntax error", one(Rule{When: `params.amount >`, Decision: AutoDeny}),
			[]wantErr{{"rules[0].when", "CEL: ERROR: <input>:1:"}}},
		{"CEL non-bool dyn", one(Rule{When: `params.flag`, Decision: AutoDeny}),
			[]wantErr{{"rules[0].when", "must be a boolean expression, got dyn"}}},
		{"CEL non-bool int", one(Rule{When: `1 + 2`, Decision: AutoDeny}),
			[]wantErr{{"rules[0].when", "must be a boolean expression, got int"}}},
		{"CEL static cost too high", one(Rule{When: `params.a.all(x, params.b.all(y, params.c.all(z, x == y && y == z)))`, Decision: AutoDeny}),
			[]wantErr{{"rules[0].when", "estimated worst-case cost"}}},
		{"CEL regex constant RE2 cannot run", one(Rule{When: `params.to.matches("(?<=a)b")`, Decision: AutoDeny}),
			[]wantErr{{"rules[0].when", "CEL"}}},
		{"unknown scope", Policy{Name: "payments", Scope: "weird", Rules: []Rule{rule(nil, AutoDeny)}},
			[]wantErr{{"scope", `unknown scope "weird"`}}},
		{"per_agent without agentIds", Policy{Name: "payments", Scope: ScopePerAgent, Rules: []Rule{rule(nil, AutoDeny)}},
			[]wantErr{{"agentIds", "scope per_agent needs at least one agent id"}}},
		{"per_tool without toolIds", Policy{Name: "payments", Scope: ScopePerTool, ToolIDs: []string{}, Rules: []Rule{rule(nil, AutoDeny)}},
			[]wantErr{{"toolIds", "scope per_tool needs at least one tool id"}}},
		{"per_tool with a bad glob", Policy{Name: "payments", Scope: ScopePerTool, ToolIDs: []string{"fs.*", `x\`}, Rules: []Rule{rule(nil, AutoDeny)}},
			[]wantErr{{"toolIds[1]", "unfinished escape"}}},
		{"blank agent id", Policy{Name: "payments", Scope: ScopePerAgent, AgentIDs: []string{"a", " "}, Rules: []Rule{rule(nil, AutoDeny)}},
			[]wantErr{{"agentIds[1]", "must not be empty"}}},
		{"agentIds on a global policy", Policy{Name: "payments", AgentIDs: []string{"a"}, Rules: []Rule{rule(nil, AutoDeny)}},
			[]wantErr{{"agentIds", "is only used with scope per_agent"}}},
		{"toolIds on a per_agent policy", Policy{Name: "payments", Scope: ScopePerAgent, AgentIDs: []string{"a"}, ToolIDs: []string{"x"}, Rules: []Rule{rule(nil, AutoDeny)}},
			[]wantErr{{"toolIds", "is only used with scope per_tool"}}},
		{"bad decision", one(Rule{Decision: "maybe"}),
			[]wantErr{{"rules[0].decision", `unknown decision "maybe"`}}},
		{"missing decision", one(Rule{Match: M{"a": 1}}),
			[]wantErr{{"rules[0].decision", "is required"}}},
		{"bad onTimeout", one(Rule{Decision: RouteToHuman, OnTimeout: "escalate"}),
			[]wantErr{{"rules[0].onTimeout", `unknown value "escalate"`}}},
		{"negative timeout", one(Rule{Decision: RouteToHuman, Timeout: Duration(-time.Minute)}),
			[]wantErr{{"rules[0].timeout", "must not be negative, got -1m0s"}}},
		{"blank approver", one(Rule{Decision: RouteToHuman, Approvers: []string{"ops", ""}}),
			[]wantErr{{"rules[0].approvers[1]", "must not be empty"}}},
		{"blank channel", one(Rule{Decision: RouteToHuman, Channels: []string{""}}),
			[]wantErr{{"rules[0].channels[0]", "must not be empty"}}},
		{"empty name", Policy{Name: "  ", Rules: []Rule{rule(nil, AutoDeny)}},
			[]wantErr{{"name", "must not be empty"}}},
		{"no rules", Policy{Name: "payments"},
			[]wantErr{{"rules", "at least one rule is required"}}},
		{"all problems of a policy are reported together",
			Policy{Name: "payments", Scope: ScopePerAgent, Rules: []Rule{
				{Match: M{"amount": M{"$gt": "5", "$in": 3}}, Decision: "maybe"},
				{Match: M{"to": M{"$regex": `(?=x)`}}, When: `params.x`, OnTimeout: "later"},
			}},
			[]wantErr{
				{"agentIds", "needs at least one agent id"},
				{"rules[0].decision", `unknown decision "maybe"`},
				{`rules[0].match["amount"]`, "$gt needs a number"},
				{`rules[0].match["amount"]`, "$in needs an array"},
				{"rules[1].decision", "is required"},
				{`rules[1].match["to"]`, "look-ahead"},
				{"rules[1].when", "must be a boolean expression"},
				{"rules[1].onTimeout", `unknown value "later"`},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.p)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			if len(ve.Errors) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(ve.Errors), len(tc.want), err)
			}
			for i, w := range tc.want {
				got := ve.Errors[i]
				if got.Field != w.field {
					t.Errorf("error %d: Field = %q, want %q", i, got.Field, w.field)
				}
				if !strings.Contains(got.Message, w.fragment) {
					t.Errorf("error %d: Message = %q, want it to contain %q", i, got.Message, w.fragment)
				}
				wantRule := -1
				if strings.HasPrefix(w.field, "rules[") {
					wantRule = int(w.field[6] - '0')
				}
				if got.RuleIndex != wantRule || got.PolicyIndex != 0 || got.Policy != tc.p.Name || got.Line != 0 {
					t.Errorf("error %d: location = %+v", i, got)
				}
			}
			// Compile must reject exactly what Validate rejects.
			if _, cerr := Compile([]Policy{tc.p}); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Compile error = %v\nValidate error = %v", cerr, err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, p := range []Policy{
		one(matchRule(M{"to": M{"$regex": `\Q(?=\E`}})), // quoted text is not a look-ahead
		one(matchRule(M{"to": M{"$regex": `[(?=]`}})),   // nor inside a class
		one(matchRule(M{"to": M{"$regex": `a+?b{2}?c\d+`}})),
		one(matchRule(M{"to": M{"$regex": `(?i)(?P<user>[^@]+)@(?<domain>.+)`}})),
		one(matchRule(M{"s": M{"$regex": `[[:alpha:]]+`}})),
		one(matchRule(M{"s": M{"$regex": `a{,2}+`}})), // '{' that is not a quantifier is a literal
		one(matchRule(M{"o": M{"$eq": M{}}, "p": M{"$eq": A{}}, "q": M{"$contains": nil}})),
		one(Rule{Decision: "route_to_agent", Timeout: Duration(time.Hour), OnTimeout: OnTimeoutApprove}),
		{Name: "t", Scope: ScopePerTool, ToolIDs: []string{"fs.*"}, Rules: []Rule{rule(nil, AutoDeny)}},
		{Name: "g", Scope: ScopeGlobal, AgentIDs: []string{}, Rules: []Rule{rule(nil, AutoDeny)}},
	} {
		if err := Validate(p); err != nil {
			t.Errorf("Validate(%+v) = %v", p.Rules, err)
		}
	}
}

func TestCompileReportsAllPolicies(t *testing.T) {
	_, err := Compile([]Policy{
		pol("ok", 0, rule(nil, AutoApprove)),
		{Name: "bad1", Rules: []Rule{{Decision: "nope"}}},
		{Name: "", Rules: nil},
		{ID: "pol_ok", Name: "dup", Rules: []Rule{rule(nil, AutoDeny)}},
	})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Compile = %v", err)
	}
	type loc struct {
		policy int
		field  string
	}
	var got []loc
	for _, e := range ve.Errors {
		got = append(got, loc{e.PolicyIndex, e.Field})
	}
	want := []loc{{1, "rules[0].decision"}, {2, "name"}, {2, "rules"}, {3, "id"}}
	if len(got) != len(want) {
		t.Fatalf("errors = %v", err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("error %d at %+v, want %+v", i, got[i], want[i])
		}
	}
	if msg := ve.Errors[3].Message; !strings.Contains(msg, `duplicate id "pol_ok" (also policies[0])`) {
		t.Errorf("duplicate id message = %q", msg)
	}
	if s := ve.Errors[1].Error(); s != "policies[2] name: must not be empty" {
		t.Errorf("unnamed policy error = %q", s)
	}
	var fe FieldError
	if !errors.As(err, &fe) || fe.Field != "rules[0].decision" {
		t.Errorf("errors.As(FieldError) = %+v", fe)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	fe := FieldError{Policy: "payments", PolicyIndex: 0, RuleIndex: 2, Field: `rules[2].match["amount"]`, Message: "$gt needs a number, got string"}
	if got, want := fe.Error(), `policy "payments" rules[2].match["amount"]: $gt needs a number, got string`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	fe.Line, fe.File = 14, "policies.yaml"
	if got, want := fe.Error(), `policies.yaml:14: policy "payments" rules[2].match["amount"]: $gt needs a number, got string`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	ve := &ValidationError{Errors: []FieldError{fe, {PolicyIndex: -1, RuleIndex: -1, Message: "x", Line: 3}}}
	if got := ve.Error(); got != fe.Error()+"; line 3: x" {
		t.Errorf("ValidationError = %q", got)
	}
}
