package policy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// M is a match object (or any JSON object) in test tables.
type M = map[string]any

// A is a JSON array in test tables.
type A = []any

// pol builds an enabled global policy.
func pol(name string, priority int, rules ...Rule) Policy {
	return Policy{ID: "pol_" + name, Name: name, Priority: priority, Enabled: true, Rules: rules}
}

func rule(match M, d Decision) Rule { return Rule{Match: match, Decision: d} }

// req builds an Input whose params are decoded from JSON, as the HTTP layer does.
func req(action, paramsJSON string) Input {
	in := Input{Action: action, Urgency: "normal", Now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	if paramsJSON != "" {
		if err := json.Unmarshal([]byte(paramsJSON), &in.Params); err != nil {
			panic(err)
		}
	}
	return in
}

func withContext(in Input, contextJSON string) Input {
	if err := json.Unmarshal([]byte(contextJSON), &in.Context); err != nil {
		panic(err)
	}
	return in
}

func withAgent(in Input, id, name string) Input {
	in.Agent = Agent{ID: id, Name: name}
	return in
}

func withUrgency(in Input, u string) Input {
	in.Urgency = u
	return in
}

type evalCase struct {
	name   string
	pols   []Policy
	in     Input
	want   Decision
	policy string // expected PolicyName; "" means nothing matched
	rule   int    // expected RuleIndex when policy != ""
	errs   int    // expected len(Result.Errors)
}

// matches is a matcher case: one policy "m" with one auto_approve rule.
func matches(name string, match M, in Input, want bool) evalCase {
	c := evalCase{name: name, pols: []Policy{pol("m", 0, rule(match, AutoApprove))}, in: in, want: RouteToHuman}
	if want {
		c.want, c.policy = AutoApprove, "m"
	}
	return c
}

func cond(when string, d Decision) Rule { return Rule{When: when, Decision: d} }

func evalCases() []evalCase {
	manyItems := make([]string, 600)
	for i := range manyItems {
		manyItems[i] = `"x"`
	}
	bigList := `{"items": [` + strings.Join(manyItems, ",") + `]}`

	return []evalCase{
		// --- upstream §13.2 behavioural cases -------------------------------------
		{name: "upstream 1: lower priority number first, input order irrelevant",
			pols: []Policy{
				pol("P1", 10, rule(M{"action": "send_email"}, AutoDeny)),
				pol("P2", 1, rule(M{"action": "send_email"}, AutoApprove)),
			},
			in: req("send_email", ""), want: AutoApprove, policy: "P2"},
		{name: "upstream 2: no policies", in: req("send_email", ""), want: RouteToHuman},
		{name: "upstream 2: none matching",
			pols: []Policy{pol("P", 0, rule(M{"action": "deploy"}, AutoApprove))},
			in:   req("send_email", ""), want: RouteToHuman},
		{name: "upstream 3: disabled policy is skipped",
			pols: []Policy{func() Policy { p := pol("P", 0, rule(nil, AutoApprove)); p.Enabled = false; return p }()},
			in:   req("x", ""), want: RouteToHuman},
		matches("upstream 4: $lt 100, amount 50", M{"params.amount": M{"$lt": 100}}, req("pay", `{"amount": 50}`), true),
		matches("upstream 4: $lt 100, amount 100", M{"params.amount": M{"$lt": 100}}, req("pay", `{"amount": 100}`), false),
		matches("upstream 4: $lt 100, amount string 50", M{"params.amount": M{"$lt": 100}}, req("pay", `{"amount": "50"}`), false),
		matches("upstream 4: $lt 100, amount missing", M{"params.amount": M{"$lt": 100}}, req("pay", `{}`), false),
		// upstream differs: the upstream evaluated only $lt and matched 50; we AND all operators.
		matches("upstream 5: range $gt 1 $lt 10, amount 50", M{"amount": M{"$gt": 1, "$lt": 10}}, req("pay", `{"amount": 50}`), false),
		matches("upstream 5: range $gt 1 $lt 10, amount 5", M{"amount": M{"$gt": 1, "$lt": 10}}, req("pay", `{"amount": 5}`), true),
		matches("upstream 5: range $gt 1 $lt 10, amount 1 (exclusive)", M{"amount": M{"$gt": 1, "$lt": 10}}, req("pay", `{"amount": 1}`), false),
		matches("upstream 6: action $in, b", M{"action": M{"$in": A{"a", "b"}}}, req("b", ""), true),
		matches("upstream 6: action $in, c", M{"action": M{"$in": A{"a", "b"}}}, req("c", ""), false),
		matches("upstream 7: $regex is an unanchored search", M{"action": M{"$regex": "email.*newsletter"}}, req("email_send_newsletter", ""), true),
		// upstream differs: the upstream refused "(a+)+$" as unsafe (never matched); RE2 runs it in linear time.
		matches("upstream 8: (a+)+$ runs in linear time, no match", M{"action": M{"$regex": "(a+)+$"}}, req(strings.Repeat("a", 5000)+"b", ""), false),
		matches("upstream 8: (a+)+$ runs in linear time, match", M{"action": M{"$regex": "(a+)+$"}}, req("baaa", ""), true),
		matches("upstream 9: context path", M{"context.user.role": "admin"}, withContext(req("x", ""), `{"user": {"role": "admin"}}`), true),
		matches("upstream 9: context path missing", M{"context.user.role": "admin"}, withContext(req("x", ""), `{}`), false),
		matches("upstream 10: bare key is a param", M{"recipient": "u@x"}, req("mail", `{"recipient": "u@x"}`), true),
		matches("upstream 10: params. prefix", M{"params.recipient": "u@x"}, req("mail", `{"recipient": "u@x"}`), true),
		// upstream differs: params.action spoofed the action upstream.
		matches("upstream 10: params.action cannot spoof action", M{"action": "read"}, req("delete_db", `{"action": "read"}`), false),
		matches("upstream 11: AND of keys", M{"action": "send_email", "urgency": "high"}, req("send_email", ""), false),
		matches("upstream 11: AND of keys, all match", M{"action": "send_email", "urgency": "high"}, withUrgency(req("send_email", ""), "high"), true),
		// upstream differs: item 12's "agentIds [] → never" and "scope weird → never" are
		// rejected by Validate here (TestValidateErrors); TestUnknownScopeNeverApplies
		// checks the run-time guard. Likewise item 8's "[invalid" regex.
		{name: "upstream 12: per_agent, listed agent",
			pols: []Policy{{Name: "A", Enabled: true, Scope: ScopePerAgent, AgentIDs: []string{"agt_1"}, Rules: []Rule{rule(nil, AutoApprove)}}},
			in:   withAgent(req("x", ""), "agt_1", ""), want: AutoApprove, policy: "A"},
		{name: "upstream 12: per_agent, no agent",
			pols: []Policy{{Name: "A", Enabled: true, Scope: ScopePerAgent, AgentIDs: []string{"agt_1"}, Rules: []Rule{rule(nil, AutoApprove)}}},
			in:   req("x", ""), want: RouteToHuman},
		{name: "upstream 12: per_tool, listed tool",
			pols: []Policy{{Name: "T", Enabled: true, Scope: ScopePerTool, ToolIDs: []string{"deploy"}, Rules: []Rule{rule(nil, AutoApprove)}}},
			in:   req("deploy", ""), want: AutoApprove, policy: "T"},

		// --- operators ---------------------------------------------------------------
		matches("$eq string", M{"env": M{"$eq": "prod"}}, req("x", `{"env": "prod"}`), true),
		matches("$eq number 1 equals 1.0", M{"n": M{"$eq": 1}}, req("x", `{"n": 1.0}`), true),
		matches("$eq deep array", M{"tags": M{"$eq": A{"a", 1.0, true}}}, req("x", `{"tags": ["a", 1, true]}`), true),
		matches("$eq deep array, order matters", M{"tags": M{"$eq": A{"a", "b"}}}, req("x", `{"tags": ["b", "a"]}`), false),
		matches("$eq deep object", M{"o": M{"$eq": M{"a": 1, "b": A{"x"}}}}, req("x", `{"o": {"b": ["x"], "a": 1}}`), true),
		matches("$eq deep object, extra key", M{"o": M{"$eq": M{"a": 1}}}, req("x", `{"o": {"a": 1, "b": 2}}`), false),
		matches("$eq null", M{"o": M{"$eq": nil}}, req("x", `{"o": null}`), true),
		matches("$ne different", M{"env": M{"$ne": "production"}}, req("x", `{"env": "staging"}`), true),
		matches("$ne same", M{"env": M{"$ne": "production"}}, req("x", `{"env": "production"}`), false),
		matches("$ne missing field is true (MongoDB)", M{"env": M{"$ne": "production"}}, req("x", `{}`), true),
		matches("$ne with $exists requires the field", M{"env": M{"$ne": "production", "$exists": true}}, req("x", `{}`), false),
		matches("$lte boundary", M{"n": M{"$lte": 10}}, req("x", `{"n": 10}`), true),
		matches("$gte boundary", M{"n": M{"$gte": 10}}, req("x", `{"n": 10}`), true),
		matches("$gt boundary", M{"n": M{"$gt": 10}}, req("x", `{"n": 10}`), false),
		matches("$gt fractional", M{"n": M{"$gt": 10}}, req("x", `{"n": 10.5}`), true),
		matches("$gt negative", M{"n": M{"$gt": -1.5}}, req("x", `{"n": -1}`), true),
		matches("$gt never matches a bool", M{"n": M{"$gt": 0}}, req("x", `{"n": true}`), false),
		matches("$gt never matches null", M{"n": M{"$gte": 0}}, req("x", `{"n": null}`), false),
		matches("$in numbers compare numerically", M{"n": M{"$in": A{1, 2, 3}}}, req("x", `{"n": 2.0}`), true),
		matches("$in is strict: string vs number", M{"n": M{"$in": A{1, 2, 3}}}, req("x", `{"n": "2"}`), false),
		matches("$in null element", M{"n": M{"$in": A{nil, "a"}}}, req("x", `{"n": null}`), true),
		matches("$in long list (hash set)", M{"c": M{"$in": A{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}}}, req("x", `{"c": "i"}`), true),
		matches("$in long list, miss", M{"c": M{"$in": A{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}}}, req("x", `{"c": "z"}`), false),
		matches("$in does not unwind arrays", M{"tags": M{"$in": A{"a"}}}, req("x", `{"tags": ["a"]}`), false),
		matches("$in with a Go []string operand", M{"c": M{"$in": []string{"a", "b"}}}, req("x", `{"c": "b"}`), true),
		matches("$or with a Go []M operand", M{"$or": []M{{"c": "a"}, {"c": "b"}}}, req("x", `{"c": "b"}`), true),
		matches("$nin missing field is true", M{"c": M{"$nin": A{"a"}}}, req("x", `{}`), true),
		matches("$nin listed", M{"c": M{"$nin": A{"a", "b"}}}, req("x", `{"c": "b"}`), false),
		matches("$nin not listed", M{"c": M{"$nin": A{"a", "b"}}}, req("x", `{"c": "z"}`), true),
		matches("$regex anchored", M{"to": M{"$regex": `^[^@]+@example\.com$`}}, req("x", `{"to": "a@example.com"}`), true),
		matches("$regex anchored, suffix attack", M{"to": M{"$regex": `^[^@]+@example\.com$`}}, req("x", `{"to": "a@example.com.evil.io"}`), false),
		matches("$regex inline flag (?i)", M{"to": M{"$regex": `(?i)@EXAMPLE\.com$`}}, req("x", `{"to": "a@example.com"}`), true),
		matches("$regex on a number never matches", M{"n": M{"$regex": `^5$`}}, req("x", `{"n": 5}`), false),
		matches("$glob fs.* matches fs.read", M{"action": M{"$glob": "fs.*"}}, req("fs.read", ""), true),
		matches("$glob fs.* does not match fsread", M{"action": M{"$glob": "fs.*"}}, req("fsread", ""), false),
		matches("$glob dot is literal", M{"action": M{"$glob": "a.b"}}, req("aXb", ""), false),
		matches("$glob ? is one character", M{"file": M{"$glob": "log?.txt"}}, req("x", `{"file": "log1.txt"}`), true),
		matches("$glob ? is exactly one character", M{"file": M{"$glob": "log?.txt"}}, req("x", `{"file": "log12.txt"}`), false),
		matches("$glob is anchored", M{"file": M{"$glob": "*.txt"}}, req("x", `{"file": "a.txt.exe"}`), false),
		matches("$glob * spans slashes", M{"path": M{"$glob": "/tmp/*"}}, req("x", `{"path": "/tmp/a/b"}`), true),
		matches("$glob escaped star is literal", M{"s": M{"$glob": `a\*`}}, req("x", `{"s": "a*"}`), true),
		matches("$glob escaped star does not wildcard", M{"s": M{"$glob": `a\*`}}, req("x", `{"s": "ab"}`), false),
		matches("$glob regex metacharacters are literal", M{"s": M{"$glob": "a+(b)*"}}, req("x", `{"s": "a+(b)zz"}`), true),
		matches("$exists true", M{"cc": M{"$exists": true}}, req("x", `{"cc": "a"}`), true),
		matches("$exists true, null counts as present", M{"cc": M{"$exists": true}}, req("x", `{"cc": null}`), true),
		matches("$exists false, missing", M{"cc": M{"$exists": false}}, req("x", `{}`), true),
		matches("$exists false, present", M{"cc": M{"$exists": false}}, req("x", `{"cc": 1}`), false),
		matches("$contains substring", M{"body": M{"$contains": "password"}}, req("x", `{"body": "my password is"}`), true),
		matches("$contains array element", M{"tags": M{"$contains": "pii"}}, req("x", `{"tags": ["a", "pii"]}`), true),
		matches("$contains array is strict", M{"ids": M{"$contains": 1}}, req("x", `{"ids": ["1"]}`), false),
		matches("$contains array of objects", M{"items": M{"$contains": M{"sku": "A"}}}, req("x", `{"items": [{"sku": "B"}, {"sku": "A"}]}`), true),
		matches("$contains number in a string field", M{"s": M{"$contains": 1}}, req("x", `{"s": "1"}`), false),
		matches("$not negates an operator object", M{"env": M{"$not": M{"$in": A{"prod", "production"}}}}, req("x", `{"env": "dev"}`), true),
		matches("$not negates, listed", M{"env": M{"$not": M{"$in": A{"prod", "production"}}}}, req("x", `{"env": "prod"}`), false),
		matches("$not missing field is true", M{"n": M{"$not": M{"$gt": 5}}}, req("x", `{}`), true),
		matches("$or any branch", M{"$or": A{M{"to": M{"$glob": "*@a.com"}}, M{"cc": M{"$exists": true}}}}, req("x", `{"to": "z@b.com", "cc": "q"}`), true),
		matches("$or no branch", M{"$or": A{M{"to": M{"$glob": "*@a.com"}}, M{"cc": M{"$exists": true}}}}, req("x", `{"to": "z@b.com"}`), false),
		matches("$and all branches", M{"$and": A{M{"n": M{"$gt": 1}}, M{"n": M{"$lt": 3}}}}, req("x", `{"n": 2}`), true),
		matches("$or nested in $and with a field", M{"action": "pay", "$and": A{M{"$or": A{M{"cur": "EUR"}, M{"cur": "USD"}}}}}, req("pay", `{"cur": "USD"}`), true),

		// --- dot paths and array indexes --------------------------------------------------
		matches("array index", M{"params.items.0.sku": "A1"}, req("x", `{"items": [{"sku": "A1"}, {"sku": "B2"}]}`), true),
		matches("array index 1", M{"items.1.sku": "B2"}, req("x", `{"items": [{"sku": "A1"}, {"sku": "B2"}]}`), true),
		matches("array index out of range", M{"items.5.sku": M{"$exists": true}}, req("x", `{"items": [{"sku": "A1"}]}`), false),
		matches("numeric key on an object", M{"m.0": "zero"}, req("x", `{"m": {"0": "zero"}}`), true),
		matches("path through a string is missing", M{"to.domain": M{"$exists": true}}, req("x", `{"to": "a@b"}`), false),
		matches("deep path", M{"context.a.b.c": 1}, withContext(req("x", ""), `{"a": {"b": {"c": 1}}}`), true),
		matches("whole params object $eq", M{"params": M{"$eq": M{"a": 1}}}, req("x", `{"a": 1}`), true),
		matches("agent.id", M{"agent.id": "key_1"}, withAgent(req("x", ""), "key_1", "bot"), true),
		matches("agent.name", M{"agent.name": M{"$glob": "ci-*"}}, withAgent(req("x", ""), "key_1", "ci-runner"), true),
		matches("agent.id absent", M{"agent.id": M{"$exists": true}}, req("x", ""), false),
		matches("status is always pending", M{"status": "pending"}, req("x", ""), true),
		matches("empty match matches everything", M{}, req("anything", ""), true),
		matches("nil match matches everything", nil, req("anything", ""), true),

		// --- shorthand and type strictness ------------------------------------------------
		matches(`"5" does not equal 5`, M{"n": "5"}, req("x", `{"n": 5}`), false),
		matches(`5 does not equal "5"`, M{"n": 5}, req("x", `{"n": "5"}`), false),
		matches(`true does not equal "true"`, M{"b": true}, req("x", `{"b": "true"}`), false),
		matches("bool shorthand", M{"b": false}, req("x", `{"b": false}`), true),
		matches("1 equals 1.0", M{"n": 1.0}, req("x", `{"n": 1}`), true),
		matches("json.Number operand, exact big integers differ", M{"n": json.Number("9007199254740993")},
			Input{Action: "x", Params: M{"n": json.Number("9007199254740992")}}, false),
		matches("json.Number operand, exact big integers equal", M{"n": json.Number("9007199254740993")},
			Input{Action: "x", Params: M{"n": int64(9007199254740993)}}, true),
		matches("int operand vs float64 field", M{"n": M{"$gte": int64(3)}}, Input{Action: "x", Params: M{"n": 3.0}}, true),
		matches("null shorthand, present null", M{"n": nil}, req("x", `{"n": null}`), true),
		matches("null shorthand, missing", M{"n": nil}, req("x", `{}`), false),
		matches("null shorthand, value", M{"n": nil}, req("x", `{"n": 0}`), false),
		matches("Go []string param", M{"tags": M{"$contains": "b"}}, Input{Action: "x", Params: M{"tags": []string{"a", "b"}}}, true),
		matches("Go map[string]string param", M{"h.k": "v"}, Input{Action: "x", Params: M{"h": map[string]string{"k": "v"}}}, true),
		matches("Go int8 param", M{"n": M{"$gt": 1, "$lt": 6}}, Input{Action: "x", Params: M{"n": int8(5)}}, true),
		matches("Go uint64 param beyond int64", M{"n": M{"$gt": 9.2e18}}, Input{Action: "x", Params: M{"n": uint64(1 << 63)}}, true),
		matches("Go map[string]int param", M{"m.a": 1}, Input{Action: "x", Params: M{"m": map[string]int{"a": 1}}}, true),
		matches("Go []int param", M{"l": M{"$contains": 2}, "l.1": 2}, Input{Action: "x", Params: M{"l": []int{1, 2}}}, true),
		matches("Go named string param", M{"d": "auto_deny"}, Input{Action: "x", Params: M{"d": AutoDeny}}, true),
		matches("Go named string is not a number", M{"d": M{"$gt": 0}}, Input{Action: "x", Params: M{"d": AutoDeny}}, false),
		matches("Go []byte is not an array", M{"b": M{"$contains": 1}}, Input{Action: "x", Params: M{"b": []byte{1}}}, false),

		// --- spoofing attempts ------------------------------------------------------------
		matches("params.status cannot spoof status", M{"status": "approved"}, req("x", `{"status": "approved"}`), false),
		matches("params.status does not hide the real status", M{"status": "pending"}, req("x", `{"status": "approved"}`), true),
		matches("params.urgency cannot spoof urgency", M{"urgency": "low"}, req("x", `{"urgency": "low"}`), false),
		matches("params.params cannot spoof params", M{"params.to": "boss@corp"}, req("x", `{"params": {"to": "boss@corp"}}`), false),
		matches("params.context cannot spoof context", M{"context.role": "admin"}, req("x", `{"context": {"role": "admin"}}`), false),
		matches("params.agent cannot spoof agent.id", M{"agent.id": "root"}, req("x", `{"agent": {"id": "root"}}`), false),
		matches("explicit params.action reads the param", M{"params.action": "read"}, req("delete_db", `{"action": "read"}`), true),

		// --- scopes -------------------------------------------------------------------------
		{name: "per_agent matches the agent name",
			pols: []Policy{{Name: "A", Enabled: true, Scope: ScopePerAgent, AgentIDs: []string{"ci-bot"}, Rules: []Rule{rule(nil, AutoApprove)}}},
			in:   withAgent(req("x", ""), "key_9", "ci-bot"), want: AutoApprove, policy: "A"},
		{name: "per_agent, other agent",
			pols: []Policy{{Name: "A", Enabled: true, Scope: ScopePerAgent, AgentIDs: []string{"agt_1"}, Rules: []Rule{rule(nil, AutoApprove)}}},
			in:   withAgent(req("x", ""), "agt_2", "other"), want: RouteToHuman},
		{name: "per_tool glob",
			pols: []Policy{{Name: "T", Enabled: true, Scope: ScopePerTool, ToolIDs: []string{"deploy", "fs.*"}, Rules: []Rule{rule(nil, AutoDeny)}}},
			in:   req("fs.delete", ""), want: AutoDeny, policy: "T"},
		{name: "per_tool, other tool",
			pols: []Policy{{Name: "T", Enabled: true, Scope: ScopePerTool, ToolIDs: []string{"fs.*"}, Rules: []Rule{rule(nil, AutoDeny)}}},
			in:   req("fsdelete", ""), want: RouteToHuman},
		{name: "per_tool, empty action never applies",
			pols: []Policy{{Name: "T", Enabled: true, Scope: ScopePerTool, ToolIDs: []string{"*"}, Rules: []Rule{rule(nil, AutoDeny)}}},
			in:   req("", ""), want: RouteToHuman},
		{name: "out-of-scope policy falls through to the next",
			pols: []Policy{
				{Name: "A", Priority: 1, Enabled: true, Scope: ScopePerAgent, AgentIDs: []string{"agt_1"}, Rules: []Rule{rule(nil, AutoApprove)}},
				pol("G", 2, rule(nil, AutoDeny)),
			},
			in: withAgent(req("x", ""), "agt_2", ""), want: AutoDeny, policy: "G"},

		// --- priorities, ties, rule order -----------------------------------------------------
		{name: "equal priorities keep input order",
			pols: []Policy{pol("first", 5, rule(nil, AutoDeny)), pol("second", 5, rule(nil, AutoApprove))},
			in:   req("x", ""), want: AutoDeny, policy: "first"},
		{name: "equal priorities keep input order, reversed",
			pols: []Policy{pol("second", 5, rule(nil, AutoApprove)), pol("first", 5, rule(nil, AutoDeny))},
			in:   req("x", ""), want: AutoApprove, policy: "second"},
		{name: "negative priority first",
			pols: []Policy{pol("zero", 0, rule(nil, AutoApprove)), pol("neg", -10, rule(nil, AutoDeny))},
			in:   req("x", ""), want: AutoDeny, policy: "neg"},
		{name: "first matching rule in the policy",
			pols: []Policy{pol("P", 0,
				rule(M{"action": "other"}, AutoDeny),
				rule(M{"amount": M{"$lt": 10}}, AutoApprove),
				rule(nil, AutoDeny))},
			in: req("pay", `{"amount": 5}`), want: AutoApprove, policy: "P", rule: 1},
		{name: "policy without a matching rule falls through",
			pols: []Policy{pol("P1", 1, rule(M{"action": "deploy"}, AutoDeny)), pol("P2", 2, rule(M{"action": "pay"}, AutoApprove))},
			in:   req("pay", ""), want: AutoApprove, policy: "P2"},
		{name: "disabled higher-priority policy is skipped",
			pols: []Policy{func() Policy { p := pol("off", 0, rule(nil, AutoDeny)); p.Enabled = false; return p }(), pol("on", 1, rule(nil, AutoApprove))},
			in:   req("x", ""), want: AutoApprove, policy: "on"},
		{name: "generic rule before an action-pinned rule keeps order",
			pols: []Policy{pol("P", 0, rule(M{"urgency": "normal"}, AutoDeny), rule(M{"action": "pay"}, AutoApprove))},
			in:   req("pay", ""), want: AutoDeny, policy: "P", rule: 0},
		{name: "action-pinned rule before a generic rule keeps order",
			pols: []Policy{pol("P", 0, rule(M{"action": "pay"}, AutoApprove), rule(M{"urgency": "normal"}, AutoDeny))},
			in:   req("pay", ""), want: AutoApprove, policy: "P", rule: 0},
		{name: "action $in is indexed under every action",
			pols: []Policy{pol("P", 0, rule(M{"action": M{"$in": A{"a", "b", "a"}}}, AutoDeny), rule(nil, AutoApprove))},
			in:   req("b", ""), want: AutoDeny, policy: "P", rule: 0},
		{name: "route_to_agent is an alias of route_to_human",
			pols: []Policy{pol("P", 0, rule(M{"action": "x"}, "route_to_agent"), rule(nil, AutoApprove))},
			in:   req("x", ""), want: RouteToHuman, policy: "P", rule: 0},

		// --- CEL conditions -----------------------------------------------------------------------
		{name: "when true",
			pols: []Policy{pol("C", 0, Rule{Match: M{"action": "mail"}, When: `params.amount > 1000 && !params.to.endsWith("@example.com")`, Decision: RouteToHuman}, rule(nil, AutoApprove))},
			in:   req("mail", `{"amount": 5000, "to": "x@evil.io"}`), want: RouteToHuman, policy: "C", rule: 0},
		{name: "when false",
			pols: []Policy{pol("C", 0, Rule{Match: M{"action": "mail"}, When: `params.amount > 1000 && !params.to.endsWith("@example.com")`, Decision: AutoDeny}, rule(nil, AutoApprove))},
			in:   req("mail", `{"amount": 5000, "to": "x@example.com"}`), want: AutoApprove, policy: "C", rule: 1},
		{name: "when error (missing key) does not match and is reported",
			pols: []Policy{pol("C", 0, cond(`params.missing == 1`, AutoDeny), rule(nil, AutoApprove))},
			in:   req("x", `{}`), want: AutoApprove, policy: "C", rule: 1, errs: 1},
		{name: "when with has() avoids the error",
			pols: []Policy{pol("C", 0, cond(`has(params.missing) && params.missing == 1`, AutoDeny), rule(nil, AutoApprove))},
			in:   req("x", `{}`), want: AutoApprove, policy: "C", rule: 1},
		{name: "when runtime type error",
			pols: []Policy{pol("C", 0, cond(`params.n + 1 > 2`, AutoDeny))},
			in:   req("x", `{"n": "text"}`), want: RouteToHuman, errs: 1},
		{name: "when cost limit exceeded",
			pols: []Policy{pol("C", 0, cond(`params.items.all(x, params.items.all(y, x == y))`, AutoDeny))},
			in:   req("x", bigList), want: RouteToHuman, errs: 1},
		{name: "when reads context, agent, urgency, action",
			pols: []Policy{pol("C", 0, cond(`context.env == "prod" && agent.id == "k1" && agent.name == "bot" && urgency == "high" && action == "x"`, AutoDeny))},
			in:   withUrgency(withAgent(withContext(req("x", ""), `{"env": "prod"}`), "k1", "bot"), "high"), want: AutoDeny, policy: "C"},
		{name: "when reads now (UTC by default)",
			pols: []Policy{pol("C", 0, cond(`now.getHours() == 10 && now.getDayOfWeek() == 1`, AutoDeny))},
			in:   req("x", ""), want: AutoDeny, policy: "C"},
		{name: "when with strings extension",
			pols: []Policy{pol("C", 0, cond(`params.to.lowerAscii().endsWith("@corp.com")`, AutoApprove))},
			in:   req("x", `{"to": "A@CORP.COM"}`), want: AutoApprove, policy: "C"},
		{name: "when with nil params map",
			pols: []Policy{pol("C", 0, cond(`size(params) == 0 && !has(context.x)`, AutoApprove))},
			in:   Input{Action: "x"}, want: AutoApprove, policy: "C"},
		{name: "when with json.Number params",
			pols: []Policy{pol("C", 0, cond(`params.amount > 1000 && params.n == 2`, AutoDeny))},
			in:   Input{Action: "x", Params: M{"amount": json.Number("5000"), "n": json.Number("2.0")}}, want: AutoDeny, policy: "C"},
		{name: "when and match both required",
			pols: []Policy{pol("C", 0, Rule{Match: M{"action": "pay"}, When: `params.amount > 10`, Decision: AutoDeny})},
			in:   req("refund", `{"amount": 50}`), want: RouteToHuman},
	}
}

func TestEvaluate(t *testing.T) {
	cases := evalCases()
	if len(cases) < 80 {
		t.Fatalf("only %d cases; the acceptance bar is 80", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile(tc.pols)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got := s.Evaluate(context.Background(), tc.in)
			if got.Decision != tc.want {
				t.Errorf("Decision = %q, want %q (reason %q, errors %v)", got.Decision, tc.want, got.Reason, got.Errors)
			}
			if got.PolicyName != tc.policy {
				t.Errorf("PolicyName = %q, want %q", got.PolicyName, tc.policy)
			}
			wantRule := tc.rule
			if tc.policy == "" {
				wantRule = -1
			}
			if got.RuleIndex != wantRule {
				t.Errorf("RuleIndex = %d, want %d", got.RuleIndex, wantRule)
			}
			if (got.Rule == nil) != (tc.policy == "") {
				t.Errorf("Rule = %v, want nil iff nothing matched", got.Rule)
			}
			if len(got.Errors) != tc.errs {
				t.Errorf("Errors = %v, want %d", got.Errors, tc.errs)
			}
			if got.Reason == "" {
				t.Error("empty Reason")
			}
		})
	}
}

func TestResultDetails(t *testing.T) {
	s, err := Compile([]Policy{{
		ID: "pol_pay", Name: "payments", Enabled: true,
		Rules: []Rule{
			rule(M{"action": "pay", "amount": M{"$lt": 10}}, AutoApprove),
			{Match: M{"action": "pay"}, Decision: RouteToHuman, Approvers: []string{"finance"}, Channels: []string{"slack"},
				RequireReason: true, Timeout: Duration(15 * time.Minute), OnTimeout: OnTimeoutDeny},
			rule(M{"action": "pay", "amount": M{"$gt": 1e6}}, AutoDeny),
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Evaluate(context.Background(), req("pay", `{"amount": 50}`))
	if got.PolicyID != "pol_pay" || got.RuleIndex != 1 || got.Rule == nil {
		t.Fatalf("got %+v", got)
	}
	if got.Reason != `policy "payments" rule 1 matched: route_to_human` {
		t.Errorf("Reason = %q", got.Reason)
	}
	r := got.Rule
	if r.Approvers[0] != "finance" || r.Channels[0] != "slack" || !r.RequireReason || r.Timeout != Duration(15*time.Minute) || r.OnTimeout != "deny" {
		t.Errorf("Rule = %+v", r)
	}

	none := s.Evaluate(context.Background(), req("other", ""))
	if none.Reason != "no policy matched; routed to a human" || none.RuleIndex != -1 || none.Rule != nil || none.PolicyName != "" {
		t.Errorf("no match = %+v", none)
	}
}

func TestEvalErrorDetails(t *testing.T) {
	s, err := Compile([]Policy{{ID: "pol_c", Name: "cel", Enabled: true, Rules: []Rule{
		rule(M{"action": "nope"}, AutoDeny),
		cond(`params.x == 1`, AutoDeny),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Evaluate(context.Background(), req("x", `{}`))
	if len(got.Errors) != 1 {
		t.Fatalf("Errors = %v", got.Errors)
	}
	e := got.Errors[0]
	if e.PolicyID != "pol_c" || e.PolicyName != "cel" || e.RuleIndex != 1 || e.Err == nil {
		t.Errorf("EvalError = %+v", e)
	}
	if !strings.Contains(e.Error(), `policy "cel" rule 1: when: no such key: x`) {
		t.Errorf("Error() = %q", e.Error())
	}
	if !strings.Contains(got.Reason, "1 condition(s) failed") {
		t.Errorf("Reason = %q", got.Reason)
	}
}

func TestEvaluateCancelledContext(t *testing.T) {
	s, err := Compile([]Policy{pol("P", 0, rule(nil, AutoApprove))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := s.Evaluate(ctx, req("x", ""))
	if got.Decision != RouteToHuman || got.RuleIndex != -1 || !strings.Contains(got.Reason, "interrupted") {
		t.Errorf("got %+v", got)
	}
}

// A cancelled context during a long CEL evaluation must not let a later
// auto_approve rule decide.
func TestEvaluateDeadlineDuringCondition(t *testing.T) {
	items := make([]any, 2000)
	for i := range items {
		items[i] = float64(i)
	}
	s, err := Compile([]Policy{pol("P", 0,
		cond(`params.items.exists(x, params.items.exists(y, x == y && x < 0))`, AutoDeny),
		rule(nil, AutoApprove))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	got := s.Evaluate(ctx, Input{Action: "x", Params: M{"items": items}})
	if got.Decision != RouteToHuman {
		t.Errorf("got %+v", got)
	}
}

func TestUnknownScopeNeverApplies(t *testing.T) {
	// Compile rejects unknown scopes; this checks the run-time guard too.
	cp := &compiledPolicy{scope: "weird"}
	if cp.applies(&Input{Action: "x", Agent: Agent{ID: "a"}}) {
		t.Error("unknown scope applied")
	}
}

func TestNilSet(t *testing.T) {
	var s *Set
	if got := s.Evaluate(context.Background(), Input{}); got.Decision != RouteToHuman || got.RuleIndex != -1 {
		t.Errorf("got %+v", got)
	}
	if s.Len() != 0 || s.Policies() != nil {
		t.Error("nil Set not empty")
	}
}

func TestPoliciesAreCopiesInEvaluationOrder(t *testing.T) {
	in := []Policy{
		pol("b", 2, rule(M{"x": M{"$in": A{"a"}}}, "route_to_agent")),
		func() Policy { p := pol("off", 1, rule(nil, AutoDeny)); p.Enabled = false; return p }(),
		pol("a", 2, rule(nil, AutoApprove)),
	}
	s, err := Compile(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d", s.Len())
	}
	got := s.Policies()
	if names := []string{got[0].Name, got[1].Name, got[2].Name}; strings.Join(names, ",") != "off,b,a" {
		t.Errorf("order = %v", names)
	}
	if got[1].Rules[0].Decision != RouteToHuman {
		t.Errorf("decision not normalised: %q", got[1].Rules[0].Decision)
	}
	// Mutating the input or the output must not change the Set.
	in[0].Rules[0].Match["x"].(M)["$in"].(A)[0] = "zzz"
	got[1].Rules[0].Match["x"] = "mutated"
	again := s.Policies()
	if again[1].Rules[0].Match["x"].(M)["$in"].(A)[0] != "a" {
		t.Errorf("Set shares state with its caller: %v", again[1].Rules[0].Match)
	}
	if r := s.Evaluate(context.Background(), req("x", `{"x": "a"}`)); r.PolicyName != "b" {
		t.Errorf("evaluation changed: %+v", r)
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	s, err := Compile([]Policy{pol("P", 0,
		cond(`params.n > 5`, AutoDeny),
		rule(M{"n": M{"$regex": "^1"}}, AutoApprove),
		rule(nil, RouteToHuman))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func() {
			ok := true
			for i := 0; i < 200; i++ {
				r := s.Evaluate(context.Background(), req("x", `{"n": 10}`))
				ok = ok && r.Decision == AutoDeny
			}
			done <- ok
		}()
	}
	for g := 0; g < 8; g++ {
		if !<-done {
			t.Error("wrong decision under concurrency")
		}
	}
}

func TestCompareNum(t *testing.T) {
	big := numFromInt(1 << 62)
	for _, tc := range []struct {
		a, b num
		want int
	}{
		{numFromInt(1), numFromFloat(1.0), 0},
		{numFromInt(1), numFromFloat(1.5), -1},
		{numFromInt(2), numFromFloat(1.5), 1},
		{numFromInt(-2), numFromFloat(-1.5), -1},
		{numFromInt(-1), numFromFloat(-1.5), 1},
		{numFromInt(9007199254740993), numFromInt(9007199254740992), 1},
		{big, numFromFloat(1e19), -1},
		{big, numFromFloat(-1e19), 1},
		{numFromFloat(1e300), numFromFloat(1e301), -1},
		{numFromUint(1 << 63), numFromInt(1<<63 - 1), 1},
	} {
		got, ok := compareNum(tc.a, tc.b)
		if !ok || got != tc.want {
			t.Errorf("compareNum(%+v, %+v) = %d, %v; want %d", tc.a, tc.b, got, ok, tc.want)
		}
	}
	nan := num{f: nanValue()}
	if _, ok := compareNum(nan, numFromInt(1)); ok {
		t.Error("NaN compared as ordered")
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}
