package policy

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
)

// Validate checks one policy and reports every problem in it, not just the
// first, as a *ValidationError (FieldError.PolicyIndex is 0). It compiles
// regular expressions, globs and CEL conditions exactly as Compile does, so a
// policy that validates also compiles.
func Validate(p Policy) error {
	_, _, errs := compilePolicy(p, 0, newCompiler())
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// compiledPolicy is a validated policy ready for evaluation.
type compiledPolicy struct {
	src      Policy // deep copy, decisions normalised
	scope    Scope  // never empty
	agentIDs []string
	tools    []glob
}

// compiledRule is one rule of an enabled policy, in evaluation order.
type compiledRule struct {
	policy   int32 // index into Set.policies
	global   bool  // the policy's scope is global: no scope check needed
	index    int   // index within the policy
	rule     *Rule // points into policies[policy].src.Rules
	decision Decision
	match    *matcher
	when     cel.Program // nil without a condition
	reason   string      // precomputed Result.Reason
}

// compilePolicy validates p and, when it is valid, compiles it. The rules'
// policy field is left for the caller to set.
func compilePolicy(p Policy, idx int, cc *compiler) (*compiledPolicy, []compiledRule, []FieldError) {
	ps := &problems{policy: p.Name, index: idx}
	root := fieldPath{}
	cp := &compiledPolicy{src: copyPolicy(p), scope: p.Scope}

	if strings.TrimSpace(p.Name) == "" {
		ps.add(root.field("name"), "must not be empty")
	}

	switch p.Scope {
	case "", ScopeGlobal:
		cp.scope = ScopeGlobal
	case ScopePerAgent, ScopePerTool:
	default:
		// An unknown scope never matches at run time either (fail closed).
		ps.add(root.field("scope"), "unknown scope %q (want global, per_agent or per_tool)", p.Scope)
	}
	if cp.scope == ScopeGlobal || cp.scope == ScopePerAgent || cp.scope == ScopePerTool {
		checkIDList(ps, root.field("agentIds"), p.AgentIDs, cp.scope, ScopePerAgent, "agent id")
		checkIDList(ps, root.field("toolIds"), p.ToolIDs, cp.scope, ScopePerTool, "tool id or glob")
	}
	if cp.scope == ScopePerAgent {
		cp.agentIDs = cp.src.AgentIDs
	}
	if cp.scope == ScopePerTool {
		for i, t := range p.ToolIDs {
			g, err := compileGlob(t)
			if err != nil {
				ps.add(root.field("toolIds").index(i), "%v", err)
				continue
			}
			cp.tools = append(cp.tools, g)
		}
	}

	if len(p.Rules) == 0 {
		ps.add(root.field("rules"), "at least one rule is required")
	}
	rules := make([]compiledRule, 0, len(cp.src.Rules))
	for i := range cp.src.Rules {
		r := &cp.src.Rules[i]
		cr := compileRule(p.Rules[i], i, ps, cc)
		cr.rule = r
		cr.reason = fmt.Sprintf("policy %q rule %d matched: %s", p.Name, i, cr.decision)
		rules = append(rules, cr)
	}
	if len(ps.errs) > 0 {
		return nil, nil, ps.errs
	}
	return cp, rules, nil
}

// checkIDList validates agentIds/toolIds: required and non-blank for the
// scope that uses them, and refused on any other scope, where they would be
// silently ignored and the policy would apply more widely than its author
// meant.
func checkIDList(ps *problems, at fieldPath, ids []string, scope, uses Scope, what string) {
	switch {
	case scope == uses && len(ids) == 0:
		ps.add(at, "scope %s needs at least one %s", uses, what)
	case scope != uses && len(ids) > 0:
		ps.add(at, "is only used with scope %s; this policy's scope is %s, so it would be ignored (set scope to %s or remove %s)",
			uses, scope, uses, at)
		return
	}
	for i, id := range ids {
		if strings.TrimSpace(id) == "" {
			ps.add(at.index(i), "must not be empty")
		}
	}
}

func compileRule(r Rule, i int, ps *problems, cc *compiler) compiledRule {
	at := fieldPath{}.field("rules").index(i)
	var cr compiledRule
	cr.index = i

	if r.Decision == "" {
		ps.add(at.field("decision"), "is required: auto_approve, auto_deny or route_to_human")
	} else if d, ok := normaliseDecision(r.Decision); ok {
		cr.decision = d
	} else {
		ps.add(at.field("decision"), "unknown decision %q (want auto_approve, auto_deny or route_to_human)", r.Decision)
	}

	cr.match = compileMatch(r.Match, at.field("match"), 0, ps, cc)

	if strings.TrimSpace(r.When) != "" {
		prg, err := cc.program(r.When)
		if err != nil {
			ps.add(at.field("when"), "%v", err)
		}
		cr.when = prg
	}

	if r.Timeout < 0 {
		ps.add(at.field("timeout"), "must not be negative, got %s", r.Timeout)
	}
	switch r.OnTimeout {
	case "", OnTimeoutExpire, OnTimeoutApprove, OnTimeoutDeny:
	default:
		ps.add(at.field("onTimeout"), "unknown value %q (want expire, approve or deny)", r.OnTimeout)
	}
	for j, a := range r.Approvers {
		if strings.TrimSpace(a) == "" {
			ps.add(at.field("approvers").index(j), "must not be empty")
		}
	}
	for j, c := range r.Channels {
		if strings.TrimSpace(c) == "" {
			ps.add(at.field("channels").index(j), "must not be empty")
		}
	}
	humanOnly := cr.decision != "" && cr.decision != RouteToHuman
	if q := r.Approvals; q != nil {
		qat := at.field("approvals")
		switch {
		case humanOnly:
			ps.add(qat, "only applies to route_to_human rules")
		case q.Required < 1 || q.Required > MaxQuorum:
			ps.add(qat.field("required"), "must be between 1 and %d, got %d", MaxQuorum, q.Required)
		}
		groups := false
		for j, f := range q.From {
			if strings.TrimSpace(f) == "" {
				ps.add(qat.field("from").index(j), "must not be empty")
			}
			groups = groups || strings.HasPrefix(f, "group:")
		}
		if !groups && len(q.From) > 0 && len(q.From) < q.Required {
			ps.add(qat.field("from"), "lists %d identities but %d approvals are required", len(q.From), q.Required)
		}
	}
	var prev Duration
	for j, e := range r.Escalate {
		eat := at.field("escalate").index(j)
		if humanOnly {
			ps.add(at.field("escalate"), "only applies to route_to_human rules")
			break
		}
		if e.After <= 0 {
			ps.add(eat.field("after"), "must be a positive duration such as 15m")
		} else if e.After <= prev {
			ps.add(eat.field("after"), "must be later than the previous step (%s)", prev)
		}
		prev = e.After
		if len(e.To) == 0 {
			ps.add(eat.field("to"), "must list at least one channel, e.g. slack:#oncall")
		}
		for k, to := range e.To {
			if strings.TrimSpace(to) == "" {
				ps.add(eat.field("to").index(k), "must not be empty")
			}
		}
	}
	return cr
}

// copyPolicy deep-copies p and normalises rule decisions, so a Set shares no
// mutable state with its caller.
func copyPolicy(p Policy) Policy {
	out := p
	out.AgentIDs = cloneStrings(p.AgentIDs)
	out.ToolIDs = cloneStrings(p.ToolIDs)
	if p.Rules != nil {
		out.Rules = make([]Rule, len(p.Rules))
		for i, r := range p.Rules {
			r.Match = copyMap(r.Match)
			r.Approvers = cloneStrings(r.Approvers)
			r.Channels = cloneStrings(r.Channels)
			if r.Approvals != nil {
				q := *r.Approvals
				q.From = cloneStrings(q.From)
				r.Approvals = &q
			}
			if r.Escalate != nil {
				esc := make([]Escalation, len(r.Escalate))
				for k, e := range r.Escalate {
					esc[k] = Escalation{After: e.After, To: cloneStrings(e.To)}
				}
				r.Escalate = esc
			}
			if d, ok := normaliseDecision(r.Decision); ok {
				r.Decision = d
			}
			out.Rules[i] = r
		}
	}
	return out
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}
