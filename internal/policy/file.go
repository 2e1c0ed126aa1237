package policy

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Defaults applied by ParseFile to keys a policy file leaves out. They match
// the REST API's defaults for a new policy.
const (
	fileDefaultPriority = 100
	fileDefaultEnabled  = true
)

// ParseFile reads policies as code: a YAML or JSON document holding either a
// list of policies or {"policies": [...]}. The format is chosen by the file
// extension (.json, .yaml, .yml) or, failing that, by the first non-blank
// character ('{' or '[' means JSON).
//
// It validates everything Compile validates and, in addition, rejects unknown
// keys (typos such as "decison"), values of the wrong type, duplicate keys in
// JSON and multiple YAML documents. Keys a policy leaves out get the REST
// API's defaults: enabled true, priority 100. The output of GET
// /api/policies parses as is: "createdAt", "updatedAt" and "pagination" are
// ignored.
//
// On failure the error is a *ValidationError listing every problem with its
// policy index and name, rule index, field, and 1-based line number.
func ParseFile(name string, data []byte) ([]Policy, error) {
	doc, err := ParseDocument(name, data)
	if err != nil {
		return nil, err
	}
	return doc.Policies, nil
}

// Document is a policy file: its policies and the approver groups it
// defines ({"groups": {"ops": ["alice", "bob"]}, "policies": [...]}).
type Document struct {
	Policies []Policy
	Groups   map[string][]string
}

// ParseDocument is ParseFile that also returns the file's groups.
func ParseDocument(name string, data []byte) (doc *Document, err error) {
	defer func() { // the YAML library is third-party code: contain any panic
		if r := recover(); r != nil {
			doc = nil
			err = &ValidationError{Errors: []FieldError{fileError(name, 0, fmt.Sprintf("cannot parse: %v", r))}}
		}
	}()
	var policies []Policy

	var (
		raw   any
		lines map[string]int
		errs  []FieldError
	)
	if isJSONFile(name, data) {
		raw, lines, errs = decodeJSONDocument(data)
	} else {
		raw, lines, errs = decodeYAMLDocument(data)
	}
	for i := range errs {
		errs[i].File = name
	}
	if raw == nil {
		if len(errs) > 0 {
			return nil, &ValidationError{Errors: errs}
		}
		return &Document{Policies: []Policy{}}, nil // an empty document (or null) holds no policies
	}

	items, base, ferr := policyList(raw)
	if ferr != nil {
		ferr.File = name
		ferr.Line = lookupLine(lines, "")
		return nil, &ValidationError{Errors: append(errs, *ferr)}
	}
	groups, gerrs := decodeGroups(raw)
	for i := range gerrs {
		gerrs[i].Line = lookupLine(lines, docKey("groups"))
	}
	errs = append(errs, gerrs...)

	cc := newCompiler()
	policies = make([]Policy, len(items))
	for i, item := range items {
		p, derrs, ok := decodePolicy(item, i)
		policies[i] = p
		errs = append(errs, derrs...)
		if !ok {
			continue
		}
		// A value that failed to decode is reported once: validation
		// findings at or below it (e.g. "decision is required" after a
		// decision of the wrong type) are dropped.
		_, _, verrs := compilePolicy(p, i, cc)
		for _, ve := range verrs {
			if !slices.ContainsFunc(derrs, func(de FieldError) bool { return de.at.isPrefixOf(ve.at) }) {
				errs = append(errs, ve)
			}
		}
	}
	errs = append(errs, duplicateIDs(policies)...)

	if len(errs) == 0 {
		return &Document{Policies: policies, Groups: groups}, nil
	}
	for i := range errs {
		fe := &errs[i]
		fe.File = name
		if fe.PolicyIndex >= 0 && fe.Line == 0 {
			fe.Line = lookupLine(lines, base+docIndex(fe.PolicyIndex)+docPath(fe.at))
		}
	}
	slices.SortStableFunc(errs, func(a, b FieldError) int {
		if a.PolicyIndex != b.PolicyIndex {
			return a.PolicyIndex - b.PolicyIndex
		}
		return a.Line - b.Line
	})
	return nil, &ValidationError{Errors: errs}
}

func isJSONFile(name string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

func fileError(name string, line int, msg string) FieldError {
	return FieldError{PolicyIndex: -1, RuleIndex: -1, Message: msg, Line: line, File: name}
}

// policyList finds the list of policies in a decoded document and returns
// the document path of that list.
func policyList(raw any) ([]any, string, *FieldError) {
	const want = `expected a list of policies or {"policies": [...]}`
	if list, ok := raw.([]any); ok {
		return list, "", nil
	}
	m, isObj, _ := stringKeyed(raw)
	if !isObj {
		fe := fileError("", 0, fmt.Sprintf("%s, got %s", want, typeName(raw)))
		return nil, "", &fe
	}
	for k := range m {
		if k != "policies" && k != "pagination" && k != "groups" { // GET /api/policies output has pagination
			fe := fileError("", 0, fmt.Sprintf("unknown top-level key %q; %s", k, want))
			return nil, "", &fe
		}
	}
	v, ok := m["policies"]
	if !ok {
		fe := fileError("", 0, want)
		return nil, "", &fe
	}
	if v == nil {
		return nil, docKey("policies"), nil
	}
	list, ok := v.([]any)
	if !ok {
		fe := fileError("", 0, fmt.Sprintf(`"policies" must be a list, got %s`, typeName(v)))
		return nil, "", &fe
	}
	return list, docKey("policies"), nil
}

// ValidGroupName reports whether name can name an approver group
// (referenced as "group:NAME").
func ValidGroupName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.')) {
			return false
		}
	}
	return true
}

// decodeGroups reads the optional "groups" object of a document.
func decodeGroups(raw any) (map[string][]string, []FieldError) {
	m, isObj, _ := stringKeyed(raw)
	if !isObj || m["groups"] == nil {
		return nil, nil
	}
	gm, isObj, _ := stringKeyed(m["groups"])
	if !isObj {
		return nil, []FieldError{fileError("", 0, fmt.Sprintf(`"groups" must map group names to lists of identities, got %s`, typeName(m["groups"])))}
	}
	var errs []FieldError
	out := map[string][]string{}
	for _, name := range sortedKeys(gm) {
		if !ValidGroupName(name) {
			errs = append(errs, fileError("", 0, fmt.Sprintf("groups: %q is not a valid group name (lower-case letters, digits, - _ .)", name)))
			continue
		}
		list, ok := gm[name].([]any)
		if !ok || len(list) == 0 {
			errs = append(errs, fileError("", 0, fmt.Sprintf("groups.%s must be a non-empty list of identities", name)))
			continue
		}
		for _, v := range list {
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				errs = append(errs, fileError("", 0, fmt.Sprintf("groups.%s: members must be non-empty strings", name)))
				break
			}
			out[name] = append(out[name], s)
		}
	}
	return out, errs
}

var (
	policyKeys = []string{"id", "name", "priority", "enabled", "scope", "agentIds", "toolIds", "rules"}
	ruleKeys   = []string{"match", "when", "decision", "approvers", "channels", "requireReason", "timeout", "onTimeout", "approvals", "escalate"}
)

// decodePolicy converts one decoded list element into a Policy, reporting
// wrong types and unknown keys. ok is false if v is not an object at all.
func decodePolicy(v any, idx int) (p Policy, errs []FieldError, ok bool) {
	ps := &problems{index: idx}
	root := fieldPath{}
	m, isObj, bad := stringKeyed(v)
	if !isObj || bad != "" {
		ps.add(root, "must be an object (a policy), got %s", typeName(v))
		return Policy{}, ps.errs, false
	}
	p = Policy{Priority: fileDefaultPriority, Enabled: fileDefaultEnabled}
	if s, isStr := m["name"].(string); isStr {
		p.Name, ps.policy = s, s
	}
	for _, k := range sortedKeys(m) {
		val, at := m[k], root.field(k)
		switch k {
		case "id":
			p.ID = decodeString(ps, at, val)
		case "name":
			p.Name = decodeString(ps, at, val)
		case "priority":
			p.Priority = decodeInt(ps, at, val, fileDefaultPriority)
		case "enabled":
			p.Enabled = decodeBool(ps, at, val, fileDefaultEnabled)
		case "scope":
			p.Scope = Scope(decodeString(ps, at, val))
		case "agentIds":
			p.AgentIDs = decodeStrings(ps, at, val)
		case "toolIds":
			p.ToolIDs = decodeStrings(ps, at, val)
		case "rules":
			list, isList := val.([]any)
			if !isList && val != nil {
				ps.add(at, "must be a list of rules, got %s", typeName(val))
				continue
			}
			p.Rules = make([]Rule, len(list))
			for i, rv := range list {
				p.Rules[i] = decodeRule(ps, at.index(i), rv)
			}
		case "createdAt", "updatedAt":
		default:
			ps.add(at, "unknown field%s", suggest(k, policyKeys))
		}
	}
	return p, ps.errs, true
}

func decodeRule(ps *problems, at fieldPath, v any) Rule {
	var r Rule
	m, isObj, bad := stringKeyed(v)
	if !isObj || bad != "" {
		ps.add(at, "must be an object (a rule), got %s", typeName(v))
		return r
	}
	for _, k := range sortedKeys(m) {
		val, kat := m[k], at.field(k)
		switch k {
		case "match":
			mm, isMap, bad := stringKeyed(val)
			switch {
			case val == nil:
			case !isMap:
				ps.add(kat, "must be an object mapping paths to matchers, got %s", typeName(val))
			case bad != "":
				ps.add(kat, "%s", bad)
			default:
				r.Match = mm
			}
		case "when":
			r.When = decodeString(ps, kat, val)
		case "decision":
			r.Decision = Decision(decodeString(ps, kat, val))
		case "approvers":
			r.Approvers = decodeStrings(ps, kat, val)
		case "channels":
			r.Channels = decodeStrings(ps, kat, val)
		case "requireReason":
			r.RequireReason = decodeBool(ps, kat, val, false)
		case "timeout":
			r.Timeout = decodeTimeout(ps, kat, val)
		case "onTimeout":
			r.OnTimeout = decodeString(ps, kat, val)
		case "approvals":
			r.Approvals = decodeQuorum(ps, kat, val)
		case "escalate":
			r.Escalate = decodeEscalation(ps, kat, val)
		default:
			ps.add(kat, "unknown field%s", suggest(k, ruleKeys))
		}
	}
	return r
}

func decodeQuorum(ps *problems, at fieldPath, v any) *Quorum {
	if v == nil {
		return nil
	}
	m, isObj, _ := stringKeyed(v)
	if !isObj {
		ps.add(at, "must be an object {required, from}, got %s", typeName(v))
		return nil
	}
	q := &Quorum{}
	for _, k := range sortedKeys(m) {
		switch k {
		case "required":
			q.Required = decodeInt(ps, at.field(k), m[k], 0)
		case "from":
			q.From = decodeStrings(ps, at.field(k), m[k])
		default:
			ps.add(at.field(k), "unknown field%s", suggest(k, []string{"required", "from"}))
		}
	}
	return q
}

func decodeEscalation(ps *problems, at fieldPath, v any) []Escalation {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		ps.add(at, "must be a list of {after, to} steps, got %s", typeName(v))
		return nil
	}
	out := make([]Escalation, len(list))
	for i, item := range list {
		m, isObj, _ := stringKeyed(item)
		if !isObj {
			ps.add(at.index(i), "must be an object {after, to}, got %s", typeName(item))
			continue
		}
		for _, k := range sortedKeys(m) {
			switch k {
			case "after":
				out[i].After = decodeTimeout(ps, at.index(i).field(k), m[k])
			case "to":
				out[i].To = decodeStrings(ps, at.index(i).field(k), m[k])
			default:
				ps.add(at.index(i).field(k), "unknown field%s", suggest(k, []string{"after", "to"}))
			}
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func decodeString(ps *problems, at fieldPath, v any) string {
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		ps.add(at, "must be a string, got %s", typeName(v))
	}
	return s
}

func decodeStrings(ps *problems, at fieldPath, v any) []string {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		ps.add(at, "must be a list of strings, got %s", typeName(v))
		return nil
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			ps.add(at.index(i), "must be a string, got %s", typeName(e))
			continue
		}
		out = append(out, s)
	}
	return out
}

func decodeBool(ps *problems, at fieldPath, v any, def bool) bool {
	b, ok := v.(bool)
	if !ok {
		ps.add(at, "must be true or false, got %s", typeName(v))
		return def
	}
	return b
}

func decodeInt(ps *problems, at fieldPath, v any, def int) int {
	n, ok := asNumber(v)
	if _, isStr := v.(string); isStr || !ok || !n.isInt || int64(int(n.i)) != n.i {
		ps.add(at, "must be an integer, got %s", describe(v))
		return def
	}
	return int(n.i)
}

func decodeTimeout(ps *problems, at fieldPath, v any) Duration {
	var (
		d   Duration
		err error
	)
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		d, err = parseDurationString(x)
	default:
		n, ok := asNumber(v)
		switch {
		case !ok:
			err = fmt.Errorf("%w, got %s", errDurationSyntax, typeName(v))
		case !n.isInt:
			err = fmt.Errorf("invalid timeout %v: %w", v, errDurationSyntax)
		default:
			d, err = secondsToDuration(n.i)
		}
	}
	if err != nil {
		ps.add(at, "%v", err)
	}
	return d
}

// suggest proposes the closest known key for a likely typo.
func suggest(k string, known []string) string {
	best, bestDist := "", 3
	for _, c := range known {
		if d := editDistance(strings.ToLower(k), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return " (known fields: " + strings.Join(known, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// duplicateIDs reports policies that reuse an earlier policy's id.
func duplicateIDs(ps []Policy) []FieldError {
	var errs []FieldError
	first := map[string]int{}
	for i, p := range ps {
		if p.ID == "" {
			continue
		}
		if j, dup := first[p.ID]; dup {
			errs = append(errs, FieldError{
				Policy: p.Name, PolicyIndex: i, RuleIndex: -1, Field: "id",
				Message: fmt.Sprintf("duplicate id %q (also policies[%d])", p.ID, j),
				at:      fieldPath{}.field("id"),
			})
			continue
		}
		first[p.ID] = i
	}
	return errs
}
