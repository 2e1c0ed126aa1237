// Package policy is AgentGate's policy engine: it decides whether an agent's
// request is approved automatically, denied automatically, or routed to a
// person. It is pure: no I/O, no logging, no global state. Callers load
// policies (from the store or from files via ParseFile), Compile them into an
// immutable Set, and Evaluate requests against it from any number of
// goroutines.
//
// # Evaluation
//
// A Set evaluates a request (Input) as follows:
//
//  1. Disabled policies are skipped.
//  2. Out-of-scope policies are skipped. Scope "global" (or empty) always
//     applies. "per_agent" applies only if Input.Agent.ID or Input.Agent.Name
//     is non-empty and listed in agentIds. "per_tool" applies only if
//     Input.Action is non-empty and matches one of toolIds, which may be globs
//     ("fs.*"). Any other scope never applies (fail closed); Validate rejects
//     it, and also rejects per_agent/per_tool without ids, and agentIds or
//     toolIds on a scope that would ignore them (the policy would silently
//     apply to everyone).
//  3. Policies are taken by ascending Priority (lower number first); equal
//     priorities keep the order given to Compile.
//  4. Within a policy, rules are tried in order. The first rule that matches,
//     in the first policy that has one, decides. Result.PolicyID, PolicyName,
//     RuleIndex and Rule say which; Result.Reason says it in words, e.g.
//     `policy "payments" rule 2 matched: auto_deny`.
//  5. If nothing matches, the request is routed to a human (RuleIndex -1).
//
// A rule matches when every key of its match object matches (AND) and, if it
// has a `when` condition, the condition evaluates to true. An empty or absent
// match matches every request.
//
// Decisions are auto_approve, auto_deny and route_to_human. The upstream's
// route_to_agent is accepted as an alias and compiled to route_to_human.
//
// # Match keys
//
// A match key is a dot path into the request:
//
//	action             the action name (string)
//	status             always "pending" at evaluation
//	urgency            low | normal | high | critical
//	agent.id           the requesting key's id
//	agent.name         the requesting key's name
//	params.<path>      request params, e.g. params.amount, params.items.0.sku
//	context.<path>     request context, e.g. context.user.role
//	params, context    the whole object
//
// A key whose first segment is none of action, status, urgency, agent,
// params or context is looked up in params: {"to": …} means {"params.to": …}.
// A param can never stand in for a top-level field: {"action": "read_file"}
// always tests the request's action, even if params contain "action".
//
// Below params and context, a segment that is a canonical non-negative
// integer ("0", "12") indexes arrays; on an object it is an ordinary key.
// Keys containing dots cannot be addressed by a path (use CEL:
// params["a.b"]). agent has only id and name; action, status and urgency
// have no fields; such keys are rejected by Validate.
//
// Presence: params and context are always present (possibly empty objects).
// action and status are always present; urgency, agent.id and agent.name are
// present only when non-empty. A path is missing if any step is missing, is
// not an object/array, or indexes past the end. A JSON null is present.
//
// # Matchers
//
// The value of a match key is a matcher.
//
// A string, number or boolean means strict equality: no coercion, so "5" does
// not equal 5 and true does not equal "true"; numbers compare numerically, so
// 1 equals 1.0 (integers are compared exactly, without float rounding).
// null means the field is present and JSON null. A bare array or an object
// without operators is rejected as ambiguous: write {"$in": [...]},
// {"$contains": x} or {"$eq": [...]} / {"$eq": {...}} instead.
//
// An object of operators holds one or more operators; ALL of them must hold,
// so {"$gt": 1, "$lt": 10} is a range. Operators and plain keys cannot be
// mixed in one object.
//
//	$eq v        deep strict equality (arrays element-wise, objects by identical key sets)
//	$ne v        not $eq; true when the field is missing
//	$lt n        the field is a number < n
//	$lte n       the field is a number <= n
//	$gt n        the field is a number > n
//	$gte n       the field is a number >= n
//	$in [..]     equals (strictly) one of the values; false when missing
//	$nin [..]    not $in; true when the field is missing
//	$regex s     the field is a string and the RE2 pattern s matches somewhere in it
//	$glob s      the field is a string and the glob s matches all of it
//	$exists b    true: the field is present (null counts); false: it is missing
//	$contains v  string field: v is a string and a substring of it;
//	             array field: some element equals v (strictly)
//	$not {ops}   none of: the operator object {ops} holds; true when missing
//
// At the top of a match object, "$and" and "$or" take a non-empty array of
// match objects (which may nest further): {"$or": [{"to": {"$glob":
// "*@a.com"}}, {"cc": {"$exists": false}}]}.
//
// Operand types are checked at Validate/Compile: an unknown operator, $in
// without an array, $exists without a boolean, $lt..$gte without a number (a
// string operand included), a pattern that is not a string, NaN or infinite
// numbers — each is a FieldError naming the field, never a silent non-match
// at run time.
//
// Deliberate choices worth knowing:
//   - $lt, $lte, $gt and $gte compare numbers only. Their operand must be a
//     number: string operands are rejected rather than compared
//     lexicographically ("10" < "9" as strings). A field that is not a JSON
//     number (a numeric string, a bool, null, missing) never satisfies them.
//     Compare strings, dates and times in a CEL `when` condition instead,
//     e.g. timestamp(params.at) < now.
//   - $ne, $nin and $not are true for a missing field (MongoDB semantics):
//     {"env": {"$ne": "production"}} matches a request without params.env.
//     Add {"$exists": true} to require the field.
//   - $in and $nin compare the field as a whole; an array field is not
//     unwound (use $contains for "the list contains x").
//
// $regex is Go RE2 syntax, unanchored (a search; use ^ and $ to anchor),
// compiled once at Compile and linear-time in its input, so no pattern can
// cause catastrophic backtracking. Patterns that RE2 cannot run are rejected
// with the construct named, e.g. `$regex: look-behind "(?<=" is not supported
// (RE2, linear time)`: look-ahead (?= (?!, look-behind (?<= (?<!, atomic
// groups (?>, possessive quantifiers *+ ++ ?+ {n}+, back-references \1..\9
// \k<name> (?P=name), recursion, conditionals, branch reset and comment
// groups. Other syntax errors carry Go's message. Inline flags such as (?i)
// work.
//
// $glob (and toolIds) patterns: '*' matches any run of characters
// (including none, '.' and '/'), '?' exactly one character, '\' escapes the
// next character; everything else is literal (no [classes] or {alternatives})
// and the pattern must match the whole string.
//
// # Conditions (when)
//
// `when` is a CEL expression (cel.dev/cel-go) over these variables:
//
//	action   string
//	params   map(string, dyn)
//	context  map(string, dyn)
//	urgency  string
//	agent    map(string, string) with keys "id" and "name"
//	now      timestamp (Input.Now; the time of the call if zero)
//
// for example `params.amount > 1000 && !params.to.endsWith("@example.com")`.
// The standard CEL library, its macros (has, all, exists, map, filter) and the
// strings extension (lowerAscii, split, replace, …) are available; numbers of
// different types compare with each other; time functions without an explicit
// zone use UTC. Conditions are type-checked at Compile and must have type
// bool (a bare dyn such as `params.flag` is rejected; write
// `params.flag == true`). A condition whose estimated worst-case cost,
// assuming 100 elements per list, map and string, exceeds 1,000,000 is
// rejected. Each evaluation runs with a cost limit of 100,000 and honours
// context cancellation. Numbers in params and context may be float64 (the
// encoding/json default), json.Number or Go integers, in conditions as in
// matchers.
//
// An evaluation error — a missing key (use has(params.x)), a type mismatch, the
// cost limit — makes that rule not match; the error is returned in
// Result.Errors for the caller to log and count. Note that a failing
// condition on an auto_deny rule therefore lets later rules decide: callers
// that want to fail closed can treat a Result with Errors as route_to_human.
// If the context is already done, or ends while a condition runs, Evaluate
// stops and routes the request to a human.
//
// # Validation
//
// Validate, Compile and ParseFile report every problem at once as a
// *ValidationError of FieldErrors, each naming the policy, rule and field:
//
//	policy "payments" rules[2].match["amount"]: $gt needs a number, got string "5"
//
// Beyond matchers and conditions they check: a non-blank name, at least one
// rule, a decision on every rule, onTimeout in {expire, approve, deny}, a
// non-negative timeout, non-blank approvers/channels/ids, unique policy ids.
// Rule timeouts are Go duration strings ("15m", "1h30m") or integer seconds.
// ParseFile also rejects unknown keys (with a "did you mean" hint), values of
// the wrong type and duplicate JSON keys, and gives each problem its line.
//
// # Differences from the upstream TypeScript engine
//
//   - All operators of a matcher object are evaluated (AND). The upstream
//     evaluated only the first of $lt, $gt, $lte, $gte, $in, $regex, so
//     {"$gt": 1, "$lt": 10} behaved as {"$lt": 10}.
//   - Params cannot spoof top-level fields. The upstream spread params over
//     the match document, so params {"action": "read_file"} made a delete_db
//     request match {"action": "read_file"}; params named status and urgency
//     spoofed those too.
//   - Invalid matchers are rejected when the policy is saved: unknown
//     operators, wrong operand types, invalid regular expressions, bare
//     arrays and objects. The upstream silently treated them as "no match" at
//     run time. null, which never matched upstream, means "present and null".
//   - Regular expressions are RE2: linear time, compiled once, so "(a+)+$" is
//     accepted and safe (the upstream refused it with a heuristic, rechecked
//     on every evaluation). Constructs RE2 lacks are rejected by name.
//   - New operators: $eq, $ne, $nin, $exists, $contains, $glob, $not, and
//     $and/$or groups; CEL `when` conditions; agent.id and agent.name paths.
//   - Scopes fail closed as upstream, and in addition per_agent also matches
//     the agent's name, per_tool accepts globs, and agentIds/toolIds on a
//     scope that would ignore them are rejected.
//   - route_to_agent, which had no mechanism behind it, is an alias of
//     route_to_human.
//   - Policies can live in YAML or JSON files (ParseFile).
//
// Unchanged from the upstream: lower priority numbers first with ties in
// load order, first matching rule wins, no match routes to a human, primitive
// matchers are strict equality, a bare key is a param, $regex is unanchored.
package policy
