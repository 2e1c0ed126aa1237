package policy

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// Limits on `when` conditions. A condition runs on every evaluation that
// reaches its rule, so both its worst case (checked at Compile) and its actual
// cost (checked while running) are bounded.
const (
	// celCostLimit is the runtime budget of one condition evaluation, in CEL
	// cost units (roughly one per operation; string and list operations cost
	// per element). Exceeding it is an evaluation error: the rule does not match.
	celCostLimit = 100_000
	// celStaticCostLimit rejects at Compile a condition whose estimated
	// worst case, with celSizeHint elements per list/map/string, exceeds it.
	// Nested comprehensions over request data are what typically trips it.
	celStaticCostLimit = 1_000_000
	// celSizeHint is the size assumed for every request list, map and string
	// when estimating the static cost.
	celSizeHint = 100
	// celInterruptEvery is how many comprehension iterations run between
	// checks of the evaluation context for cancellation.
	celInterruptEvery = 100
)

// compiler holds what Compile shares across all policies of one call: the CEL
// environment (built on first use; it costs about half a millisecond) and
// caches so that identical patterns and conditions compile once.
type compiler struct {
	env     *cel.Env
	envErr  error
	progs   map[string]cel.Program
	regexps map[string]*regexp.Regexp
}

func newCompiler() *compiler {
	return &compiler{progs: map[string]cel.Program{}, regexps: map[string]*regexp.Regexp{}}
}

func (c *compiler) regex(pattern string) (*regexp.Regexp, error) {
	if re, ok := c.regexps[pattern]; ok {
		return re, nil
	}
	re, err := compileRegexp(pattern)
	if err != nil {
		return nil, err
	}
	c.regexps[pattern] = re
	return re, nil
}

// newCELEnv declares the variables a `when` condition can read.
func newCELEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("action", cel.StringType),
		cel.Variable("params", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("context", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("urgency", cel.StringType),
		cel.Variable("agent", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("now", cel.TimestampType),
		cel.CrossTypeNumericComparisons(true),
		// Time functions without an explicit zone use UTC, so a condition means
		// the same thing on every server.
		cel.DefaultUTCTimeZone(true),
		ext.Strings(),
	)
}

// program type-checks and plans a `when` condition.
func (c *compiler) program(expr string) (cel.Program, error) {
	if p, ok := c.progs[expr]; ok {
		return p, nil
	}
	if c.env == nil && c.envErr == nil {
		c.env, c.envErr = newCELEnv()
	}
	if c.envErr != nil {
		return nil, fmt.Errorf("CEL environment: %w", c.envErr)
	}
	ast, iss := c.env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("CEL: %w", iss.Err())
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("must be a boolean expression, got %s (compare explicitly, e.g. params.flag == true)", t)
	}
	est, err := c.env.EstimateCost(ast, sizeHints{})
	if err != nil {
		return nil, fmt.Errorf("CEL cost estimate: %w", err)
	}
	if est.Max > celStaticCostLimit {
		return nil, fmt.Errorf("estimated worst-case cost %d exceeds the limit %d (avoid nested comprehensions over request data)", est.Max, celStaticCostLimit)
	}
	prg, err := c.env.Program(ast,
		cel.CostLimit(celCostLimit),
		cel.InterruptCheckFrequency(celInterruptEvery),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, fmt.Errorf("CEL: %w", err)
	}
	c.progs[expr] = prg
	return prg, nil
}

// sizeHints gives the static cost estimator a size for request data, which is
// otherwise unbounded.
type sizeHints struct{}

func (sizeHints) EstimateSize(cost.AstNode) *cost.SizeEstimate {
	return &cost.SizeEstimate{Min: 0, Max: celSizeHint}
}

func (sizeHints) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// activation exposes one request to CEL without copying params or context.
// It holds its own copy of the Input (one allocation, made only when a
// condition runs) because CEL may retain it beyond the Evaluate frame.
type activation struct {
	in    Input
	now   time.Time
	agent map[string]string
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "action":
		return a.in.Action, true
	case "params":
		return a.in.Params, true
	case "context":
		return a.in.Context, true
	case "urgency":
		return a.in.Urgency, true
	case "agent":
		if a.agent == nil {
			a.agent = map[string]string{"id": a.in.Agent.ID, "name": a.in.Agent.Name}
		}
		return a.agent, true
	case "now":
		if a.now.IsZero() {
			a.now = a.in.Now
			if a.now.IsZero() {
				a.now = time.Now()
			}
		}
		return a.now, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// evalCondition runs a compiled condition. Any failure, including a panic
// inside an extension function, is returned as an error: the rule does not match.
func evalCondition(ctx context.Context, prg cel.Program, act *activation) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("CEL evaluation panicked: %v", r)
		}
	}()
	val, _, err := prg.ContextEval(ctx, act)
	if err != nil {
		return false, err
	}
	b, isBool := val.Value().(bool)
	if !isBool {
		return false, fmt.Errorf("condition returned %s, not bool", val.Type())
	}
	return b, nil
}
