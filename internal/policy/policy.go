package policy

import (
	"fmt"
	"time"
)

// Decision is what a policy rule decides for a request.
type Decision string

const (
	// AutoApprove approves the request without asking anyone.
	AutoApprove Decision = "auto_approve"
	// AutoDeny denies the request without asking anyone.
	AutoDeny Decision = "auto_deny"
	// RouteToHuman leaves the request pending for a person to decide.
	RouteToHuman Decision = "route_to_human"

	// routeToAgent is the upstream's fourth decision. No agent-routing mechanism
	// exists there or here, so it is accepted on input and compiled to RouteToHuman.
	routeToAgent Decision = "route_to_agent"
)

// Scope limits which requests a policy applies to.
type Scope string

const (
	// ScopeGlobal applies to every request. The empty Scope means the same.
	ScopeGlobal Scope = "global"
	// ScopePerAgent applies only to the agents listed in Policy.AgentIDs.
	ScopePerAgent Scope = "per_agent"
	// ScopePerTool applies only to the actions listed (as globs) in Policy.ToolIDs.
	ScopePerTool Scope = "per_tool"
)

// OnTimeout values: what happens to a routed request nobody decides in time.
// The policy engine only validates and carries them; the approval service acts.
const (
	OnTimeoutExpire  = "expire"
	OnTimeoutApprove = "approve"
	OnTimeoutDeny    = "deny"
)

// Policy is the stored and wire form of a policy (JSON camelCase; YAML uses the
// same keys). A Policy is plain data; Compile turns a list of them into a Set.
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

// Rule is one "if this request looks like X, decide Y" entry of a policy.
// See the package documentation for the matcher language of Match and When.
type Rule struct {
	// Match maps dot paths to matchers; every key must match (AND).
	// Values are as encoding/json decodes them (float64, string, bool, nil,
	// []any, map[string]any); json.Number and Go integer kinds are accepted too.
	Match map[string]any `json:"match" yaml:"match"`
	// When is an optional CEL condition that must also be true.
	When     string   `json:"when,omitempty" yaml:"when,omitempty"`
	Decision Decision `json:"decision" yaml:"decision"`
	// Approvers, Channels, RequireReason, Timeout and OnTimeout are carried for
	// the approval service, which routes and enforces them; the engine only
	// validates their shape.
	Approvers     []string `json:"approvers,omitempty" yaml:"approvers,omitempty"`
	Channels      []string `json:"channels,omitempty" yaml:"channels,omitempty"`
	RequireReason bool     `json:"requireReason,omitempty" yaml:"requireReason,omitempty"`
	Timeout       Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	OnTimeout     string   `json:"onTimeout,omitempty" yaml:"onTimeout,omitempty"`
	// Approvals asks for several distinct approvals (a quorum); any deny
	// is a veto. Only for route_to_human rules.
	Approvals *Quorum `json:"approvals,omitempty" yaml:"approvals,omitempty"`
	// Escalate notifies more people while the request is still pending.
	// Only for route_to_human rules.
	Escalate []Escalation `json:"escalate,omitempty" yaml:"escalate,omitempty"`
}

// MaxQuorum bounds Quorum.Required.
const MaxQuorum = 50

// Quorum requires Required distinct approvals, from the identities (or
// "group:NAME" groups) in From when it is set, else from anyone allowed
// to decide.
type Quorum struct {
	Required int      `json:"required" yaml:"required"`
	From     []string `json:"from,omitempty" yaml:"from,omitempty"`
}

// Escalation is one step: After this long without a decision, notify To
// (channels such as "slack:#oncall" or "email:lead@example.com").
type Escalation struct {
	After Duration `json:"after" yaml:"after"`
	To    []string `json:"to" yaml:"to"`
}

// Agent identifies the requester: the id and name of the API key (or verified
// agent) that created the request. It is never taken from request params.
type Agent struct {
	ID   string
	Name string
}

// Input is one request as the policy engine sees it.
type Input struct {
	Action  string
	Params  map[string]any
	Context map[string]any
	Urgency string // low|normal|high|critical
	Agent   Agent
	// Now is the value of `now` in CEL conditions. If zero, the time of the
	// Evaluate call is used; pass it explicitly for reproducible evaluations.
	Now time.Time
}

// Result is the outcome of evaluating one request against a Set.
type Result struct {
	Decision   Decision
	PolicyID   string
	PolicyName string
	// RuleIndex is the index of the matching rule in its policy, -1 when
	// nothing matched.
	RuleIndex int
	// Reason explains the decision for people (audit log, dashboard).
	Reason string
	// Rule is the matched rule (nil when none). It points into the Set and must
	// be treated as read-only.
	Rule *Rule
	// Errors lists CEL evaluation errors met on the way. Each such rule did not
	// match. The engine does not log; the caller logs and counts them.
	Errors []EvalError
}

// EvalError is a CEL `when` condition that failed at evaluation time (missing
// key, wrong type, cost limit exceeded, interrupted).
type EvalError struct {
	PolicyID   string
	PolicyName string
	RuleIndex  int
	Err        error
}

func (e EvalError) Error() string {
	return fmt.Sprintf("policy %q rule %d: when: %v", e.PolicyName, e.RuleIndex, e.Err)
}

func (e EvalError) Unwrap() error { return e.Err }

// normaliseDecision reports whether d is accepted on input and returns its
// compiled form (route_to_agent becomes route_to_human).
func normaliseDecision(d Decision) (Decision, bool) {
	switch d {
	case AutoApprove, AutoDeny, RouteToHuman:
		return d, true
	case routeToAgent:
		return RouteToHuman, true
	}
	return "", false
}
