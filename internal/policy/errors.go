package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// FieldError names exactly what is wrong with a policy and where.
// Its Error reads like
//
//	policy "payments" rules[2].match["amount"]: $gt needs a number, got string
//
// prefixed with "file:line: " when it comes from ParseFile.
type FieldError struct {
	// Policy is the policy's name (may be empty when the name is what is wrong).
	Policy string
	// PolicyIndex is the position of the policy in the list given to Compile or
	// ParseFile (0 for Validate); -1 for problems with the file as a whole.
	PolicyIndex int
	// RuleIndex is the rule's index within the policy, -1 if not in a rule.
	RuleIndex int
	// Field is the path inside the policy: "name", "scope", "toolIds[1]",
	// "rules[2].decision", `rules[2].match["amount"]`, `rules[0].match.$or[1]["to"]`.
	Field   string
	Message string
	// Line is the 1-based line in the source file, 0 unless from ParseFile.
	Line int
	// File is the name given to ParseFile, empty otherwise.
	File string

	at fieldPath // structured form of Field, used to find Line
}

// Error formats the problem on one line.
func (e FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	switch {
	case e.PolicyIndex < 0:
	case e.Policy != "":
		fmt.Fprintf(&b, "policy %q ", e.Policy)
	default:
		fmt.Fprintf(&b, "policies[%d] ", e.PolicyIndex)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ValidationError carries every problem found in one Validate, Compile or
// ParseFile call. Use errors.As to get it; each entry is also reachable with
// errors.As(err, &FieldError{}) through Unwrap.
type ValidationError struct {
	Errors []FieldError
}

// Error joins the problems with "; ".
func (e *ValidationError) Error() string {
	if len(e.Errors) == 0 {
		return "invalid policy"
	}
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes the individual FieldErrors to errors.Is and errors.As.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		errs[i] = fe
	}
	return errs
}

// fieldPath is a structured location inside a policy. It renders as the
// FieldError.Field string and lets ParseFile find the source line.
type fieldPath []pathElem

type elemKind uint8

const (
	elemField elemKind = iota // a fixed field of Policy or Rule: .name
	elemKey                   // a key of a match object: ["amount"]
	elemOp                    // a structural operator key: .$or
	elemIndex                 // an array index: [2]
)

type pathElem struct {
	kind  elemKind
	name  string
	index int
}

// with returns a copy of p extended by e (never aliasing p's backing array).
func (p fieldPath) with(e pathElem) fieldPath {
	out := make(fieldPath, len(p), len(p)+1)
	copy(out, p)
	return append(out, e)
}

func (p fieldPath) field(name string) fieldPath { return p.with(pathElem{kind: elemField, name: name}) }
func (p fieldPath) key(name string) fieldPath   { return p.with(pathElem{kind: elemKey, name: name}) }
func (p fieldPath) op(name string) fieldPath    { return p.with(pathElem{kind: elemOp, name: name}) }
func (p fieldPath) index(i int) fieldPath       { return p.with(pathElem{kind: elemIndex, index: i}) }

func (p fieldPath) String() string {
	var b strings.Builder
	for i, e := range p {
		switch e.kind {
		case elemField, elemOp:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e.name)
		case elemKey:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(e.name))
			b.WriteByte(']')
		case elemIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// isPrefixOf reports whether q is p or lies below p.
func (p fieldPath) isPrefixOf(q fieldPath) bool {
	return len(p) <= len(q) && slices.Equal(p, q[:len(p)])
}

// ruleIndex returns the rule index p points into, or -1.
func (p fieldPath) ruleIndex() int {
	if len(p) >= 2 && p[0].kind == elemField && p[0].name == "rules" && p[1].kind == elemIndex {
		return p[1].index
	}
	return -1
}

// problems collects the FieldErrors of one policy.
type problems struct {
	policy string
	index  int
	errs   []FieldError
}

func (ps *problems) add(at fieldPath, format string, args ...any) {
	ps.errs = append(ps.errs, FieldError{
		Policy:      ps.policy,
		PolicyIndex: ps.index,
		RuleIndex:   at.ruleIndex(),
		Field:       at.String(),
		Message:     fmt.Sprintf(format, args...),
		at:          at,
	})
}
