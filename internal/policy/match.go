package policy

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// This file resolves match keys (dot paths) against a request and compiles
// match objects into matchers. Operators themselves live in operator.go.

// root is where a dot path starts. Roots are fixed when the policy is
// compiled, so a request param can never stand in for a top-level field: the
// upstream merged params into the match document and `params.action` could
// spoof `action`.
type root uint8

const (
	rootParams root = iota
	rootContext
	// The string-valued top-level fields follow; isScalar relies on the order.
	rootAction
	rootStatus
	rootUrgency
	rootAgentID
	rootAgentName
)

// pendingStatus is the value of `status` at evaluation: policies only ever see
// requests that are being created.
const pendingStatus = "pending"

// segment is one step of a path below params or context. index is the array
// index the segment denotes (-1 if it is not a canonical non-negative integer);
// objects are always looked up by key, so {"0": …} still works.
type segment struct {
	key   string
	index int
}

type valuePath struct {
	root root
	segs []segment
}

// parsePath compiles a match key. A bare key whose first segment is not a
// top-level field is a param: "to" is "params.to".
func parsePath(key string) (valuePath, string) {
	if key == "" {
		return valuePath{}, "empty key"
	}
	parts := strings.Split(key, ".")
	for _, p := range parts {
		if p == "" {
			return valuePath{}, "empty segment in path (keys are dot paths like params.amount)"
		}
	}
	var vp valuePath
	rest := parts
	switch parts[0] {
	case "action", "status", "urgency":
		if len(parts) > 1 {
			return valuePath{}, parts[0] + " is a string; it has no field " + strconv.Quote(parts[1])
		}
		switch parts[0] {
		case "action":
			vp.root = rootAction
		case "status":
			vp.root = rootStatus
		default:
			vp.root = rootUrgency
		}
		return vp, ""
	case "agent":
		if len(parts) == 2 && parts[1] == "id" {
			return valuePath{root: rootAgentID}, ""
		}
		if len(parts) == 2 && parts[1] == "name" {
			return valuePath{root: rootAgentName}, ""
		}
		return valuePath{}, `agent has only "id" and "name" (use agent.id or agent.name)`
	case "params":
		vp.root, rest = rootParams, parts[1:]
	case "context":
		vp.root, rest = rootContext, parts[1:]
	default:
		vp.root = rootParams
	}
	vp.segs = make([]segment, len(rest))
	for i, p := range rest {
		vp.segs[i] = segment{key: p, index: arrayIndex(p)}
	}
	return vp, ""
}

// arrayIndex parses a canonical decimal index ("0", "12"; not "01", "+1", "-1").
func arrayIndex(s string) int {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// doc is one request during one evaluation. It copies the few fields it
// needs instead of pointing at the Input, so that neither escapes to the
// heap: evaluating matchers allocates nothing.
type doc struct {
	params, context map[string]any
	action, urgency string
	agentID         string
	agentName       string
}

func newDoc(in *Input) doc {
	return doc{
		params: in.Params, context: in.Context,
		action: in.Action, urgency: in.Urgency,
		agentID: in.Agent.ID, agentName: in.Agent.Name,
	}
}

// isScalar reports whether the root is one of the top-level string fields.
func (r root) isScalar() bool { return r >= rootAction }

// scalar resolves a top-level string field. action and status are always
// present; the others only when non-empty.
func (d *doc) scalar(r root) (string, bool) {
	switch r {
	case rootAction:
		return d.action, true
	case rootStatus:
		return pendingStatus, true
	case rootUrgency:
		return d.urgency, d.urgency != ""
	case rootAgentID:
		return d.agentID, d.agentID != ""
	case rootAgentName:
		return d.agentName, d.agentName != ""
	}
	return "", false
}

// resolve follows a path below params or context.
func (d *doc) resolve(p *valuePath) (any, bool) {
	var cur any = d.params
	if p.root == rootContext {
		cur = d.context
	}
	for i := range p.segs {
		s := &p.segs[i]
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[s.key]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			if s.index < 0 || s.index >= len(c) {
				return nil, false
			}
			cur = c[s.index]
		default:
			if o, ok := asObject(cur); ok {
				v, found := o.get(s.key)
				if !found {
					return nil, false
				}
				cur = v
			} else if a, ok := asArray(cur); ok && s.index >= 0 && s.index < a.len() {
				cur = a.at(s.index)
			} else {
				return nil, false
			}
		}
	}
	return cur, true
}

// matcher is a compiled match object: every field and every group must hold.
type matcher struct {
	fields []fieldMatcher
	groups []matchGroup
}

type fieldMatcher struct {
	path valuePath
	ops  []op // AND
}

// matchGroup is a compiled $and or $or: a list of nested match objects.
type matchGroup struct {
	or   bool
	alts []*matcher
}

func (m *matcher) match(d *doc) bool {
	for i := range m.fields {
		f := &m.fields[i]
		if f.path.root.isScalar() {
			s, present := d.scalar(f.path.root)
			for _, o := range f.ops {
				if !o.testString(s, present) {
					return false
				}
			}
			continue
		}
		v, present := d.resolve(&f.path)
		for _, o := range f.ops {
			if !o.test(v, present) {
				return false
			}
		}
	}
	for _, g := range m.groups {
		if g.or {
			hit := false
			for _, alt := range g.alts {
				if alt.match(d) {
					hit = true
					break
				}
			}
			if !hit {
				return false
			}
			continue
		}
		for _, alt := range g.alts {
			if !alt.match(d) {
				return false
			}
		}
	}
	return true
}

// actionPins returns the action literals the matcher requires (one of them),
// or nil if the action is not pinned. Used to index rules by action.
func (m *matcher) actionPins() []string {
	for _, f := range m.fields {
		if f.path.root != rootAction {
			continue
		}
		for _, o := range f.ops {
			switch x := o.(type) {
			case eqStringOp:
				return []string{x.want}
			case *inOp:
				if pins := x.stringsOnly(); pins != nil {
					return pins
				}
			}
		}
	}
	return nil
}

// compileMatch validates and compiles a match object. Keys are visited in
// sorted order so error lists are deterministic.
func compileMatch(m map[string]any, at fieldPath, depth int, ps *problems, cc *compiler) *matcher {
	out := &matcher{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m[k]
		if strings.HasPrefix(k, "$") {
			g, ok := compileGroup(k, v, at, depth, ps, cc)
			if ok {
				out.groups = append(out.groups, g)
			}
			continue
		}
		kat := at.key(k)
		p, msg := parsePath(k)
		if msg != "" {
			ps.add(kat, "%s", msg)
			continue
		}
		ops := compileValueMatcher(v, kat, depth, ps, cc)
		if ops != nil {
			out.fields = append(out.fields, fieldMatcher{path: p, ops: ops})
		}
	}
	// Every field must match, so test the cheapest first: top-level strings,
	// then paths by depth. Matching has no side effects; order is free.
	slices.SortStableFunc(out.fields, func(a, b fieldMatcher) int {
		return cmp.Compare(a.path.cost(), b.path.cost())
	})
	return out
}

// cost orders paths for evaluation: top-level strings first, then by depth.
func (p *valuePath) cost() int {
	if p.root.isScalar() {
		return 0
	}
	return 1 + len(p.segs)
}

func compileGroup(k string, v any, at fieldPath, depth int, ps *problems, cc *compiler) (matchGroup, bool) {
	gat := at.op(k)
	if k != "$and" && k != "$or" {
		if isFieldOperator(k) {
			ps.add(gat, `%s must be under a field, e.g. {"amount": {%q: …}}; only $and and $or may appear at the top of match`, k, k)
		} else {
			ps.add(gat, "unknown operator %q (match supports $and and $or at the top; field operators: %s)", k, operatorList)
		}
		return matchGroup{}, false
	}
	if depth >= maxValueDepth {
		ps.add(gat, "match objects nested more than %d levels deep", maxValueDepth)
		return matchGroup{}, false
	}
	list, ok := asArray(v)
	if !ok || list.len() == 0 {
		ps.add(gat, "%s needs a non-empty array of match objects, got %s", k, describe(v))
		return matchGroup{}, false
	}
	g := matchGroup{or: k == "$or"}
	valid := true
	for i := 0; i < list.len(); i++ {
		e, eat := list.at(i), gat.index(i)
		obj, isObj, bad := stringKeyed(e)
		if !isObj {
			ps.add(eat, "%s entries must be match objects, got %s", k, describe(e))
			valid = false
			continue
		}
		if bad != "" {
			ps.add(eat, "%s", bad)
			valid = false
			continue
		}
		g.alts = append(g.alts, compileMatch(obj, eat, depth+1, ps, cc))
	}
	return g, valid
}

// stringKeyed returns v as a map with string keys. isObj reports whether v is
// an object at all; bad is non-empty if it is one with a non-string key (YAML).
func stringKeyed(v any) (m map[string]any, isObj bool, bad string) {
	switch x := v.(type) {
	case map[string]any:
		return x, true, ""
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, true, "object keys must be strings, got " + typeName(k)
			}
			out[ks] = e
		}
		return out, true, ""
	}
	return nil, false, ""
}

// describe names a value's JSON type for messages, with the value when short.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) <= 40 {
			return "string " + strconv.Quote(x)
		}
	case bool:
		return "bool " + strconv.FormatBool(x)
	}
	return typeName(v)
}
