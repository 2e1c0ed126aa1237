package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/policy"
)

// SimulateInput is a candidate policy and the history to replay it on.
type SimulateInput struct {
	// Policy is the candidate. When its ID names a stored policy, the
	// candidate replaces it; otherwise it is added.
	Policy policy.Policy
	// Limit is how many of the latest requests to replay (default 100,
	// at most 1000). From and To narrow them to a creation time range.
	Limit    int
	From, To time.Time
}

// MaxSimulate bounds a simulation's history.
const MaxSimulate = 1000

// DecisionCounts counts the outcomes of a policy set over a history.
type DecisionCounts struct {
	AutoApproved  int
	AutoDenied    int
	RoutedToHuman int
}

func (c *DecisionCounts) add(d policy.Decision) {
	switch d {
	case policy.AutoApprove:
		c.AutoApproved++
	case policy.AutoDeny:
		c.AutoDenied++
	default:
		c.RoutedToHuman++
	}
}

// SimulatedRequest is one replayed request.
type SimulatedRequest struct {
	RequestID         string
	Action            string
	CreatedAt         time.Time
	Status            Status // what actually happened
	CurrentDecision   PolicyDecision
	CandidateDecision PolicyDecision
	Changed           bool
}

// SimulateResult says what the candidate would have changed.
type SimulateResult struct {
	Total     int
	Current   DecisionCounts
	Candidate DecisionCounts
	Changed   int
	Requests  []SimulatedRequest // the changed ones first, then the rest
}

// Simulate replays stored requests against the policies in force and
// against the same set with the candidate, and reports which decisions
// change. Nothing is stored.
func (s *Service) Simulate(ctx context.Context, in SimulateInput) (*SimulateResult, error) {
	if in.Limit == 0 {
		in.Limit = 100
	}
	if in.Limit < 1 || in.Limit > MaxSimulate {
		return nil, Errorf(CodeInvalid, "limit must be between 1 and %d", MaxSimulate)
	}
	cand := in.Policy
	if cand.ID == "" {
		cand.ID = "pol_candidate"
	}
	if err := policy.Validate(cand); err != nil {
		return nil, policyError(err)
	}
	stored, err := s.store.PolicyList(ctx)
	if err != nil {
		return nil, err
	}
	current, err := compileStored(stored, s.log)
	if err != nil {
		return nil, err
	}
	withCand := []policy.Policy{}
	for _, sp := range current.Policies() {
		if sp.ID != cand.ID {
			withCand = append(withCand, sp)
		}
	}
	candidate, err := policy.Compile(append(withCand, cand))
	if err != nil {
		return nil, policyError(err)
	}
	var reqs []*Request
	for offset := 0; len(reqs) < in.Limit; {
		page, _, err := s.store.RequestList(ctx, RequestFilter{From: in.From, To: in.To, Sort: SortNewest,
			Limit: min(MaxPageSize, in.Limit-len(reqs)), Offset: offset})
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, page...)
		if len(page) < MaxPageSize {
			break
		}
		offset += len(page)
	}
	res := &SimulateResult{Total: len(reqs)}
	var changed, same []SimulatedRequest
	for _, r := range reqs {
		pin, err := replayInput(r)
		if err != nil {
			return nil, fmt.Errorf("simulate: request %s: %w", r.ID, err)
		}
		cur := current.Evaluate(ctx, pin)
		nxt := candidate.Evaluate(ctx, pin)
		res.Current.add(cur.Decision)
		res.Candidate.add(nxt.Decision)
		sr := SimulatedRequest{RequestID: r.ID, Action: r.Action, CreatedAt: r.CreatedAt, Status: r.Status,
			CurrentDecision: toPolicyDecision(cur), CandidateDecision: toPolicyDecision(nxt),
			Changed: cur.Decision != nxt.Decision}
		if sr.Changed {
			changed = append(changed, sr)
		} else {
			same = append(same, sr)
		}
	}
	res.Changed = len(changed)
	res.Requests = append(changed, same...)
	return res, nil
}

// replayInput rebuilds the policy input of a stored request, as of its
// creation.
func replayInput(r *Request) (policy.Input, error) {
	in := policy.Input{Action: r.Action, Urgency: string(r.Urgency), Agent: policy.Agent{ID: r.AgentID, Name: r.AgentName}, Now: r.CreatedAt}
	if err := json.Unmarshal(r.Params, &in.Params); err != nil {
		return in, err
	}
	if err := json.Unmarshal(r.Context, &in.Context); err != nil {
		return in, err
	}
	return in, nil
}

// Template is a ready-made policy.
type Template = policy.Template

// PolicyTemplates lists the built-in templates.
func (s *Service) PolicyTemplates() []Template { return policy.Templates() }

// TemplateOverrides adjust a template when it is instantiated.
type TemplateOverrides struct {
	Name     *string
	Priority *int
	Enabled  *bool
}

// CreatePolicyFromTemplate stores a policy made from template id.
func (s *Service) CreatePolicyFromTemplate(ctx context.Context, by Actor, id string, o TemplateOverrides) (*StoredPolicy, error) {
	for _, tpl := range policy.Templates() {
		if tpl.ID != id {
			continue
		}
		p := tpl.Policy
		if o.Name != nil {
			p.Name = *o.Name
		}
		if o.Priority != nil {
			p.Priority = *o.Priority
		}
		if o.Enabled != nil {
			p.Enabled = *o.Enabled
		}
		return s.CreatePolicy(ctx, by, p)
	}
	return nil, Errorf(CodeNotFound, "Template not found: %s", id)
}
