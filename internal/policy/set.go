package policy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Set is a compiled, immutable list of policies. It is safe for concurrent
// use; to change policies, Compile a new Set and swap it in.
type Set struct {
	policies []*compiledPolicy // evaluation order: priority ascending, ties in input order
	rules    []compiledRule    // rules of enabled policies, in evaluation order

	// Candidate index. A rule whose match pins `action` to literals (a plain
	// string, $eq or $in of strings) can only match those actions, so it is
	// listed under each of them; every other rule is generic. Both lists hold
	// ascending positions in rules, and Evaluate merges the two lists of a
	// request, so the evaluation order is exactly the order of rules.
	byAction map[string][]int32
	generic  []int32
}

// Compile validates every policy and returns a ready Set, or a
// *ValidationError listing the problems of all policies (FieldError.PolicyIndex
// is the position in ps). Policy ids, when set, must be unique.
//
// Regular expressions, globs and CEL programs are compiled here, once; the
// Set keeps its own deep copy of ps.
func Compile(ps []Policy) (*Set, error) {
	cc := newCompiler()
	var errs []FieldError
	compiled := make([]*compiledPolicy, len(ps))
	rules := make([][]compiledRule, len(ps))
	for i, p := range ps {
		cp, crs, perrs := compilePolicy(p, i, cc)
		errs = append(errs, perrs...)
		compiled[i], rules[i] = cp, crs
	}
	errs = append(errs, duplicateIDs(ps)...)
	if len(errs) > 0 {
		return nil, &ValidationError{Errors: errs}
	}

	order := make([]int, len(ps))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ps[a].Priority, ps[b].Priority) })

	s := &Set{byAction: map[string][]int32{}}
	for _, i := range order {
		pi := int32(len(s.policies))
		s.policies = append(s.policies, compiled[i])
		if !ps[i].Enabled {
			continue // kept for Policies and Len; never evaluated
		}
		for _, cr := range rules[i] {
			cr.policy, cr.global = pi, compiled[i].scope == ScopeGlobal
			pos := int32(len(s.rules))
			s.rules = append(s.rules, cr)
			if pins := cr.match.actionPins(); pins != nil {
				for _, a := range pins {
					s.byAction[a] = append(s.byAction[a], pos)
				}
			} else {
				s.generic = append(s.generic, pos)
			}
		}
	}
	return s, nil
}

// Len returns the number of policies in the Set, disabled ones included.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.policies)
}

// Policies returns deep copies of the policies in evaluation order (priority
// ascending, ties in the order given to Compile), with route_to_agent
// decisions normalised to route_to_human.
func (s *Set) Policies() []Policy {
	if s == nil {
		return nil
	}
	out := make([]Policy, len(s.policies))
	for i, cp := range s.policies {
		out[i] = copyPolicy(cp.src)
	}
	return out
}

// Evaluate decides one request: the first matching rule of the first
// matching policy wins; without a match the request goes to a human.
// See the package documentation for the exact semantics.
//
// A `when` condition that fails to evaluate makes its rule not match and is
// reported in Result.Errors. If ctx is already done, or a condition is
// interrupted because ctx ended, Evaluate stops and routes the request to a
// human rather than letting a later rule decide.
func (s *Set) Evaluate(ctx context.Context, in Input) Result {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return interrupted(err, nil)
	}
	if s == nil {
		return noMatch(nil)
	}
	d := newDoc(&in)
	var (
		act        *activation
		errs       []EvalError
		bucket     = s.byAction[in.Action]
		generic    = s.generic
		lastPolicy = int32(-1)
		inScope    bool
	)
	for len(bucket) > 0 || len(generic) > 0 {
		var pos int32
		if len(generic) == 0 || (len(bucket) > 0 && bucket[0] < generic[0]) {
			pos, bucket = bucket[0], bucket[1:]
		} else {
			pos, generic = generic[0], generic[1:]
		}
		r := &s.rules[pos]
		// Rules of one policy are contiguous in evaluation order, so the scope
		// check runs once per policy visited.
		if r.policy != lastPolicy {
			lastPolicy = r.policy
			inScope = r.global || s.policies[r.policy].applies(&in)
		}
		if !inScope || !r.match.match(&d) {
			continue
		}
		if r.when != nil {
			if act == nil {
				act = &activation{in: in}
			}
			ok, err := evalCondition(ctx, r.when, act)
			if err != nil {
				p := &s.policies[r.policy].src
				errs = append(errs, EvalError{PolicyID: p.ID, PolicyName: p.Name, RuleIndex: r.index, Err: err})
				if cerr := ctx.Err(); cerr != nil {
					return interrupted(cerr, errs)
				}
				continue
			}
			if !ok {
				continue
			}
		}
		p := &s.policies[r.policy].src
		return Result{
			Decision:   r.decision,
			PolicyID:   p.ID,
			PolicyName: p.Name,
			RuleIndex:  r.index,
			Reason:     r.reason,
			Rule:       r.rule,
			Errors:     errs,
		}
	}
	return noMatch(errs)
}

func noMatch(errs []EvalError) Result {
	reason := "no policy matched; routed to a human"
	if len(errs) > 0 {
		reason = fmt.Sprintf("no policy matched (%d condition(s) failed to evaluate); routed to a human", len(errs))
	}
	return Result{Decision: RouteToHuman, RuleIndex: -1, Reason: reason, Errors: errs}
}

func interrupted(err error, errs []EvalError) Result {
	return Result{
		Decision:  RouteToHuman,
		RuleIndex: -1,
		Reason:    fmt.Sprintf("evaluation interrupted (%v); routed to a human", err),
		Errors:    errs,
	}
}

// applies reports whether the policy's scope covers the request. Unknown
// scopes never apply (Compile rejects them anyway).
func (cp *compiledPolicy) applies(in *Input) bool {
	switch cp.scope {
	case ScopeGlobal:
		return true
	case ScopePerAgent:
		for _, id := range cp.agentIDs {
			if (in.Agent.ID != "" && id == in.Agent.ID) || (in.Agent.Name != "" && id == in.Agent.Name) {
				return true
			}
		}
	case ScopePerTool:
		if in.Action == "" {
			return false
		}
		for _, g := range cp.tools {
			if g.match(in.Action) {
				return true
			}
		}
	}
	return false
}
