package policy

import (
	"regexp"
	"slices"
	"strings"
)

// op is one compiled matcher operator. test receives the resolved field value
// and whether the field is present at all (a JSON null is present).
// testString is the same test for the string-valued top-level fields
// (action, status, urgency, agent.id, agent.name); it exists so that those
// strings are never boxed into interfaces on the hot path.
type op interface {
	test(v any, present bool) bool
	testString(s string, present bool) bool
}

// operatorList names the field operators for error messages.
const operatorList = "$eq, $ne, $lt, $lte, $gt, $gte, $in, $nin, $regex, $glob, $exists, $contains, $not"

func isFieldOperator(k string) bool {
	switch k {
	case "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin",
		"$regex", "$glob", "$exists", "$contains", "$not":
		return true
	}
	return false
}

// compileValueMatcher compiles the value of a match key: a primitive means
// strict equality, null means "present and null", an object holds operators.
// It returns nil if the value is invalid (problems are recorded in ps).
func compileValueMatcher(v any, at fieldPath, depth int, ps *problems, cc *compiler) []op {
	obj, isObj, bad := stringKeyed(v)
	switch {
	case isObj && bad != "":
		ps.add(at, "%s", bad)
		return nil
	case isObj:
		return compileOperators(obj, at, "", depth, ps, cc)
	}
	if _, isArr := asArray(v); isArr {
		ps.add(at, `an array value is ambiguous: use {"$in": [...]} for "one of", {"$contains": x} for membership, or {"$eq": [...]} for deep equality`)
		return nil
	}
	c, err := canon(v, depth)
	if err != nil {
		ps.add(at, "%v", err)
		return nil
	}
	return []op{eqFor(c)}
}

// compileOperators compiles an operator object. Every operator is kept and
// all must hold (the upstream evaluated only the first one it found).
// prefix qualifies messages inside $not.
func compileOperators(obj map[string]any, at fieldPath, prefix string, depth int, ps *problems, cc *compiler) []op {
	if len(obj) == 0 {
		ps.add(at, `%san empty object is ambiguous: use operators like {"$gt": 1}, or {"$eq": {}} for deep equality`, prefix)
		return nil
	}
	keys := make([]string, 0, len(obj))
	nOps := 0
	for k := range obj {
		keys = append(keys, k)
		if strings.HasPrefix(k, "$") {
			nOps++
		}
	}
	slices.Sort(keys)
	switch {
	case nOps == 0:
		ps.add(at, `%san object value is ambiguous: use {"$eq": {...}} for deep equality, or operators like {"$gt": 1}`, prefix)
		return nil
	case nOps != len(keys):
		ps.add(at, `%soperator object mixes operators with plain keys (%s); use {"$eq": {...}} to compare with an object`, prefix, strings.Join(keys, ", "))
		return nil
	}
	ops := make([]op, 0, len(keys))
	ok := true
	for _, k := range keys {
		o := compileOperator(k, obj[k], at, prefix, depth, ps, cc)
		if o == nil {
			ok = false
			continue
		}
		ops = append(ops, o)
	}
	if !ok {
		return nil
	}
	return ops
}

func compileOperator(name string, operand any, at fieldPath, prefix string, depth int, ps *problems, cc *compiler) op {
	fail := func(format string, args ...any) op {
		ps.add(at, prefix+name+" "+format, args...)
		return nil
	}
	switch name {
	case "$eq", "$ne":
		c, err := canon(operand, depth+1)
		if err != nil {
			return fail("operand: %v", err)
		}
		if name == "$ne" {
			return notOp{ops: []op{eqFor(c)}}
		}
		return eqFor(c)

	case "$lt", "$lte", "$gt", "$gte":
		n, ok := asNumber(operand) // never true for a string, even "5"
		if !ok {
			return fail("needs a number, got %s (compare strings or dates with a CEL `when`)", describe(operand))
		}
		c, err := finite(n)
		if err != nil {
			return fail("%v", err)
		}
		return cmpOp{kind: cmpKindOf(name), want: c.(num)}

	case "$in", "$nin":
		list, ok := asArray(operand)
		if !ok {
			return fail("needs an array, got %s", describe(operand))
		}
		in := &inOp{}
		for i := 0; i < list.len(); i++ {
			c, err := canon(list.at(i), depth+1)
			if err != nil {
				return fail("element %d: %v", i, err)
			}
			in.vals = append(in.vals, c)
		}
		in.buildSet()
		if name == "$nin" {
			return notOp{ops: []op{in}}
		}
		return in

	case "$regex":
		s, ok := operand.(string)
		if !ok {
			return fail("needs a string pattern, got %s", describe(operand))
		}
		re, err := cc.regex(s)
		if err != nil {
			ps.add(at, "%s%s: %v", prefix, name, err)
			return nil
		}
		return regexOp{re: re}

	case "$glob":
		s, ok := operand.(string)
		if !ok {
			return fail("needs a string pattern, got %s", describe(operand))
		}
		g, err := compileGlob(s)
		if err != nil {
			ps.add(at, "%s%s: %v", prefix, name, err)
			return nil
		}
		return globOp{g: g}

	case "$exists":
		b, ok := operand.(bool)
		if !ok {
			return fail("needs true or false, got %s", describe(operand))
		}
		return existsOp{want: b}

	case "$contains":
		c, err := canon(operand, depth+1)
		if err != nil {
			return fail("operand: %v", err)
		}
		s, isStr := c.(string)
		return containsOp{want: c, str: s, isStr: isStr}

	case "$not":
		obj, isObj, bad := stringKeyed(operand)
		if !isObj || bad != "" || len(obj) == 0 {
			return fail(`needs an operator object like {"$gt": 5}, got %s`, describe(operand))
		}
		if depth >= maxValueDepth {
			return fail("nested more than %d levels deep", maxValueDepth)
		}
		inner := compileOperators(obj, at, prefix+"$not: ", depth+1, ps, cc)
		if inner == nil {
			return nil
		}
		return notOp{ops: inner}

	case "$and", "$or":
		return fail(`is only allowed at the top of match: {%q: [{"params.a": 1}, {"params.b": 2}]}`, name)
	}
	ps.add(at, "%sunknown operator %q (supported: %s)", prefix, name, operatorList)
	return nil
}

// eqFor returns the equality operator for a canonical operand, specialised
// for the common primitive cases.
func eqFor(c any) op {
	switch x := c.(type) {
	case string:
		return eqStringOp{want: x}
	case num:
		return eqNumberOp{want: x}
	case bool:
		return eqBoolOp{want: x}
	case nil:
		return isNullOp{}
	}
	return eqOp{want: c}
}

type eqOp struct{ want any }

func (o eqOp) test(v any, present bool) bool { return present && equalValue(o.want, v) }

// testString: an eqOp operand is an array or an object, never a string.
func (o eqOp) testString(string, bool) bool { return false }

type eqStringOp struct{ want string }

func (o eqStringOp) test(v any, present bool) bool {
	if s, ok := v.(string); ok {
		return present && s == o.want
	}
	s, ok := asString(v)
	return present && ok && s == o.want
}

func (o eqStringOp) testString(s string, present bool) bool { return present && s == o.want }

type eqNumberOp struct{ want num }

func (o eqNumberOp) test(v any, present bool) bool {
	n, ok := asNumber(v)
	if !present || !ok {
		return false
	}
	c, ordered := compareNum(n, o.want)
	return ordered && c == 0
}

func (eqNumberOp) testString(string, bool) bool { return false }

type eqBoolOp struct{ want bool }

func (o eqBoolOp) test(v any, present bool) bool {
	b, ok := asBool(v)
	return present && ok && b == o.want
}

func (eqBoolOp) testString(string, bool) bool { return false }

// isNullOp is the `null` matcher: the field is present and JSON null.
type isNullOp struct{}

func (isNullOp) test(v any, present bool) bool { return present && v == nil }

func (isNullOp) testString(string, bool) bool { return false }

// notOp negates the conjunction of its operators. It implements $ne, $nin
// and $not, which are therefore true for a missing field (MongoDB semantics).
type notOp struct{ ops []op }

func (o notOp) test(v any, present bool) bool {
	for _, x := range o.ops {
		if !x.test(v, present) {
			return true
		}
	}
	return false
}

func (o notOp) testString(s string, present bool) bool {
	for _, x := range o.ops {
		if !x.testString(s, present) {
			return true
		}
	}
	return false
}

type cmpKind uint8

const (
	cmpLT cmpKind = iota
	cmpLTE
	cmpGT
	cmpGTE
)

func cmpKindOf(name string) cmpKind {
	switch name {
	case "$lt":
		return cmpLT
	case "$lte":
		return cmpLTE
	case "$gt":
		return cmpGT
	}
	return cmpGTE
}

// cmpOp is $lt/$lte/$gt/$gte: numbers only. A string field never satisfies
// it, even one that looks like a number.
type cmpOp struct {
	kind cmpKind
	want num
}

func (o cmpOp) test(v any, present bool) bool {
	if !present {
		return false
	}
	n, ok := asNumber(v)
	if !ok {
		return false
	}
	c, ordered := compareNum(n, o.want)
	if !ordered {
		return false
	}
	switch o.kind {
	case cmpLT:
		return c < 0
	case cmpLTE:
		return c <= 0
	case cmpGT:
		return c > 0
	default:
		return c >= 0
	}
}

func (cmpOp) testString(string, bool) bool { return false }

// inOp is $in: the field equals (strictly) one of the values. Long lists of
// strings get a hash set.
type inOp struct {
	vals []any
	strs map[string]struct{}
}

const inSetThreshold = 8

func (o *inOp) buildSet() {
	if len(o.vals) < inSetThreshold {
		return
	}
	o.strs = make(map[string]struct{}, len(o.vals))
	for _, v := range o.vals {
		if s, ok := v.(string); ok {
			o.strs[s] = struct{}{}
		}
	}
}

// stringsOnly returns the distinct values if they are all strings, else nil.
func (o *inOp) stringsOnly() []string {
	out := make([]string, 0, len(o.vals))
	for _, v := range o.vals {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (o *inOp) test(v any, present bool) bool {
	if !present {
		return false
	}
	if o.strs != nil {
		if s, ok := v.(string); ok {
			_, hit := o.strs[s]
			return hit
		}
	}
	for _, w := range o.vals {
		if equalValue(w, v) {
			return true
		}
	}
	return false
}

func (o *inOp) testString(s string, present bool) bool {
	if !present {
		return false
	}
	if o.strs != nil {
		_, hit := o.strs[s]
		return hit
	}
	for _, w := range o.vals {
		if ws, ok := w.(string); ok && ws == s {
			return true
		}
	}
	return false
}

// regexOp is $regex: an unanchored RE2 search over a string field.
type regexOp struct{ re *regexp.Regexp }

func (o regexOp) test(v any, present bool) bool {
	s, ok := asString(v)
	return present && ok && o.re.MatchString(s)
}

func (o regexOp) testString(s string, present bool) bool { return present && o.re.MatchString(s) }

// globOp is $glob: an anchored whole-string glob over a string field.
type globOp struct{ g glob }

func (o globOp) test(v any, present bool) bool {
	s, ok := asString(v)
	return present && ok && o.g.match(s)
}

func (o globOp) testString(s string, present bool) bool { return present && o.g.match(s) }

type existsOp struct{ want bool }

func (o existsOp) test(_ any, present bool) bool { return present == o.want }

func (o existsOp) testString(_ string, present bool) bool { return present == o.want }

// containsOp is $contains: substring for a string field (string operand),
// element membership with strict equality for an array field.
type containsOp struct {
	want  any
	str   string
	isStr bool
}

func (o containsOp) test(v any, present bool) bool {
	if !present {
		return false
	}
	if s, ok := asString(v); ok {
		return o.isStr && strings.Contains(s, o.str)
	}
	if a, ok := asArray(v); ok {
		for i := 0; i < a.len(); i++ {
			if equalValue(o.want, a.at(i)) {
				return true
			}
		}
	}
	return false
}

func (o containsOp) testString(s string, present bool) bool {
	return present && o.isStr && strings.Contains(s, o.str)
}
