// Package policy is a temporary stand-in with the engine's API; the real
// engine replaces this file.
package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

type Decision string

const (
	AutoApprove  Decision = "auto_approve"
	AutoDeny     Decision = "auto_deny"
	RouteToHuman Decision = "route_to_human"
)

type Scope string

type Policy struct {
	ID       string   `json:"id,omitempty" yaml:"id,omitempty"`
	Name     string   `json:"name" yaml:"name"`
	Priority int      `json:"priority" yaml:"priority"`
	Enabled  bool     `json:"enabled" yaml:"enabled"`
	Scope    Scope    `json:"scope,omitempty" yaml:"scope,omitempty"`
	AgentIDs []string `json:"agentIds,omitempty" yaml:"agentIds,omitempty"`
	ToolIDs  []string `json:"toolIds,omitempty" yaml:"toolIds,omitempty"`
	Rules    []Rule   `json:"rules" yaml:"rules"`
}

type Rule struct {
	Match         map[string]any `json:"match" yaml:"match"`
	When          string         `json:"when,omitempty" yaml:"when,omitempty"`
	Decision      Decision       `json:"decision" yaml:"decision"`
	Approvers     []string       `json:"approvers,omitempty" yaml:"approvers,omitempty"`
	Channels      []string       `json:"channels,omitempty" yaml:"channels,omitempty"`
	RequireReason bool           `json:"requireReason,omitempty" yaml:"requireReason,omitempty"`
	Timeout       Duration       `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	OnTimeout     string         `json:"onTimeout,omitempty" yaml:"onTimeout,omitempty"`
}

type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.ParseDuration(s)
		*d = Duration(v)
		return err
	}
	n, err := strconv.Atoi(string(b))
	*d = Duration(time.Duration(n) * time.Second)
	return err
}

type Agent struct{ ID, Name string }

type Input struct {
	Action  string
	Params  map[string]any
	Context map[string]any
	Urgency string
	Agent   Agent
	Now     time.Time
}

type Result struct {
	Decision   Decision
	PolicyID   string
	PolicyName string
	RuleIndex  int
	Reason     string
	Rule       *Rule
	Errors     []EvalError
}

type EvalError struct {
	PolicyID, PolicyName string
	RuleIndex            int
	Err                  error
}

type FieldError struct {
	Policy      string
	PolicyIndex int
	RuleIndex   int
	Field       string
	Message     string
	Line        int
}

func (e FieldError) Error() string {
	return fmt.Sprintf("policy %q rules[%d].%s: %s", e.Policy, e.RuleIndex, e.Field, e.Message)
}

type ValidationError struct{ Errors []FieldError }

func (e *ValidationError) Error() string {
	var errs []error
	for _, fe := range e.Errors {
		errs = append(errs, fe)
	}
	return errors.Join(errs...).Error()
}

func Validate(p Policy) error {
	if p.Name == "" {
		return &ValidationError{Errors: []FieldError{{Policy: p.Name, RuleIndex: -1, Field: "name", Message: "is required"}}}
	}
	return nil
}

type Set struct{ ps []Policy }

func Compile(ps []Policy) (*Set, error) {
	s := slices.Clone(ps)
	slices.SortStableFunc(s, func(a, b Policy) int { return a.Priority - b.Priority })
	return &Set{ps: s}, nil
}

func (s *Set) Len() int           { return len(s.ps) }
func (s *Set) Policies() []Policy { return s.ps }
func (s *Set) Evaluate(ctx context.Context, in Input) Result {
	for _, p := range s.ps {
		if !p.Enabled {
			continue
		}
		for i, r := range p.Rules {
			ok := true
			for k, v := range r.Match {
				if k == "action" && v != in.Action {
					ok = false
				}
			}
			if ok {
				return Result{Decision: r.Decision, PolicyID: p.ID, PolicyName: p.Name, RuleIndex: i, Rule: &p.Rules[i], Reason: "matched"}
			}
		}
	}
	return Result{Decision: RouteToHuman, RuleIndex: -1, Reason: "no policy matched; routed to a human"}
}

type Template struct {
	ID, Name, Description, Category string
	Policy                          Policy
}

func Templates() []Template { return nil }

func ParseFile(name string, data []byte) ([]Policy, error) { return nil, errors.New("stub") }
