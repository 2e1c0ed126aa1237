package approval

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/agentgate/agentgate/internal/policy"
)

// Policies returns every stored policy, lowest priority number first.
func (s *Service) Policies(ctx context.Context) ([]StoredPolicy, error) {
	ps, err := s.store.PolicyList(ctx)
	if err != nil {
		return nil, err
	}
	sortPolicies(ps)
	return ps, nil
}

func sortPolicies(ps []StoredPolicy) {
	slices.SortStableFunc(ps, func(a, b StoredPolicy) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.CreatedAt.Compare(b.CreatedAt))
	})
}

// Policy returns the stored policy id.
func (s *Service) Policy(ctx context.Context, id string) (*StoredPolicy, error) {
	p, err := s.store.PolicyGetByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Wrap(CodeNotFound, err, "Policy not found")
	}
	return p, err
}

// CreatePolicy validates p and stores it; it is in force for the next
// request on every process. Errors: CodeInvalid naming the rule and field.
func (s *Service) CreatePolicy(ctx context.Context, by Actor, p policy.Policy) (*StoredPolicy, error) {
	p.ID = NewID("pol_")
	if err := policy.Validate(p); err != nil {
		return nil, policyError(err)
	}
	var out *StoredPolicy
	err := s.change(ctx, func(tx Tx) ([]Event, error) {
		now := tx.Now()
		sp := &StoredPolicy{Policy: p, Source: PolicySourceAPI, CreatedAt: now, UpdatedAt: now}
		if err := tx.PolicyInsert(ctx, sp); err != nil {
			return nil, err
		}
		out = sp
		return nil, tx.AuditInsert(ctx, policyAudit(EventPolicyCreated, by, sp, now))
	})
	return out, err
}

// UpdatePolicy replaces policy id with p (keeping its id and creation time).
func (s *Service) UpdatePolicy(ctx context.Context, by Actor, id string, p policy.Policy) (*StoredPolicy, error) {
	p.ID = id
	if err := policy.Validate(p); err != nil {
		return nil, policyError(err)
	}
	var out *StoredPolicy
	err := s.change(ctx, func(tx Tx) ([]Event, error) {
		cur, err := tx.PolicyGetByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, Wrap(CodeNotFound, err, "Policy not found")
		}
		if err != nil {
			return nil, err
		}
		if cur.Source == PolicySourceFile {
			return nil, errFilePolicy(id)
		}
		now := tx.Now()
		sp := &StoredPolicy{Policy: p, Source: cur.Source, CreatedAt: cur.CreatedAt, UpdatedAt: now}
		if err := tx.PolicyUpdate(ctx, sp); err != nil {
			return nil, err
		}
		out = sp
		return nil, tx.AuditInsert(ctx, policyAudit(EventPolicyUpdated, by, sp, now))
	})
	return out, err
}

// PolicyPatch holds the fields of a partial policy update; nil means keep.
type PolicyPatch struct {
	Name     *string
	Priority *int
	Enabled  *bool
	Scope    *policy.Scope
	AgentIDs *[]string
	ToolIDs  *[]string
	Rules    *[]policy.Rule
}

// PatchPolicy changes the given fields of policy id.
func (s *Service) PatchPolicy(ctx context.Context, by Actor, id string, patch PolicyPatch) (*StoredPolicy, error) {
	cur, err := s.Policy(ctx, id)
	if err != nil {
		return nil, err
	}
	p := cur.Policy
	if patch.Name != nil {
		p.Name = *patch.Name
	}
	if patch.Priority != nil {
		p.Priority = *patch.Priority
	}
	if patch.Enabled != nil {
		p.Enabled = *patch.Enabled
	}
	if patch.Scope != nil {
		p.Scope = *patch.Scope
	}
	if patch.AgentIDs != nil {
		p.AgentIDs = *patch.AgentIDs
	}
	if patch.ToolIDs != nil {
		p.ToolIDs = *patch.ToolIDs
	}
	if patch.Rules != nil {
		p.Rules = *patch.Rules
	}
	return s.UpdatePolicy(ctx, by, id, p)
}

// DeletePolicy removes policy id.
func (s *Service) DeletePolicy(ctx context.Context, by Actor, id string) error {
	return s.change(ctx, func(tx Tx) ([]Event, error) {
		cur, err := tx.PolicyGetByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, Wrap(CodeNotFound, err, "Policy not found")
		}
		if err != nil {
			return nil, err
		}
		if cur.Source == PolicySourceFile {
			return nil, errFilePolicy(id)
		}
		if err := tx.PolicyDelete(ctx, id); err != nil {
			return nil, err
		}
		return nil, tx.AuditInsert(ctx, policyAudit(EventPolicyDeleted, by, cur, tx.Now()))
	})
}

func policyAudit(typ string, by Actor, p *StoredPolicy, now time.Time) *AuditEvent {
	return &AuditEvent{
		EventType: typ,
		Actor:     by.Name,
		ActorID:   by.ID,
		ActorType: by.Type,
		Details:   details(map[string]any{"policyId": p.ID, "name": p.Name, "policy": p.Policy}),
		CreatedAt: now,
	}
}

// DryRunInput is a sample request to evaluate without storing it.
type DryRunInput struct {
	Action  string
	Params  map[string]any
	Context map[string]any
	Urgency Urgency
	Agent   Actor
}

func (in *DryRunInput) input(now time.Time) (policy.Input, error) {
	ci := CreateInput{Action: in.Action, Params: in.Params, Context: in.Context, Urgency: in.Urgency}
	if err := ci.Validate(now); err != nil {
		return policy.Input{}, err
	}
	return policy.Input{
		Action:  ci.Action,
		Params:  ci.Params,
		Context: ci.Context,
		Urgency: string(ci.Urgency),
		Agent:   policy.Agent{ID: in.Agent.ID, Name: in.Agent.Name},
		Now:     now,
	}, nil
}

// DryRunResult is what a policy would decide.
type DryRunResult struct {
	PolicyDecision
	Matched bool     // a rule matched
	Errors  []string // condition errors met on the way
}

func dryRunResult(res policy.Result) *DryRunResult {
	out := &DryRunResult{PolicyDecision: toPolicyDecision(res), Matched: res.RuleIndex >= 0}
	for _, e := range res.Errors {
		out.Errors = append(out.Errors, e.Err.Error())
	}
	return out
}

// DryRunPolicy evaluates a sample request against policy id alone, as if
// it were enabled, and says what it would decide and why.
func (s *Service) DryRunPolicy(ctx context.Context, id string, in DryRunInput) (*DryRunResult, error) {
	sp, err := s.Policy(ctx, id)
	if err != nil {
		return nil, err
	}
	pin, err := in.input(time.Now().UTC())
	if err != nil {
		return nil, err
	}
	p := sp.Policy
	p.Enabled = true
	set, err := policy.Compile([]policy.Policy{p})
	if err != nil {
		return nil, policyError(err)
	}
	return dryRunResult(set.Evaluate(ctx, pin)), nil
}

// DryRun evaluates a sample request against every policy in force.
func (s *Service) DryRun(ctx context.Context, in DryRunInput) (*DryRunResult, error) {
	pin, err := in.input(time.Now().UTC())
	if err != nil {
		return nil, err
	}
	stored, err := s.store.PolicyList(ctx)
	if err != nil {
		return nil, err
	}
	set, err := compileStored(stored, s.log)
	if err != nil {
		return nil, err
	}
	return dryRunResult(set.Evaluate(ctx, pin)), nil
}
