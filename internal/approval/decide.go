package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/policy"
)

// Decide records by's decision on the pending request id.
//
// Most requests need one decision. A rule with a quorum
// (approvals.required N) needs N distinct approvals: each approval is a
// vote and the request stays pending until the N-th; any deny is a veto.
// An approval may carry edited params (the policies are evaluated again on
// the edited request, and an edit they would deny is refused) and a grant
// (approve the same agent's next requests for the same action for a
// while).
//
// Errors: CodeNotFound; CodeConflict ("Request already approved") when the
// request is no longer pending, including when a concurrent decision won,
// or when by already voted; CodeForbidden when by created the request or
// is not an allowed approver; CodeInvalid for bad input or a missing
// required reason; CodeUnprocessable for an edit the policies deny.
func (s *Service) Decide(ctx context.Context, by Actor, id string, in DecideInput) (*Request, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var edited json.RawMessage
	if in.Params != nil || len(in.RawParams) > 0 {
		var err error
		if edited, err = objectJSON(in.RawParams, in.Params); err != nil {
			return nil, Wrap(CodeInvalid, err, "params must be a JSON object")
		}
		if in.Params == nil {
			if err := json.Unmarshal(edited, &in.Params); err != nil {
				return nil, Wrap(CodeInvalid, err, "params must be a JSON object")
			}
		}
		if countKeys(in.Params, s.cfg.MaxParamsKeys) > s.cfg.MaxParamsKeys {
			return nil, Errorf(CodeInvalid, "params must hold at most %d keys, counting nested objects", s.cfg.MaxParamsKeys)
		}
	}
	var (
		req   *Request
		final bool
	)
	err := s.change(ctx, func(tx Tx) ([]Event, error) {
		r, err := tx.RequestLock(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, Wrap(CodeNotFound, err, "Request not found")
		}
		if err != nil {
			return nil, err
		}
		if r.Status != StatusPending {
			return nil, Errorf(CodeConflict, "Request already %s", r.Status)
		}
		if err := s.authorizeDecider(ctx, tx, r, by); err != nil {
			return nil, err
		}
		if r.PolicyDecision.RequireReason && in.Reason == "" {
			return nil, Errorf(CodeInvalid, "a reason is required to decide this request")
		}
		if in.Claim != nil {
			if err := in.Claim(ctx, tx, r); err != nil {
				return nil, err
			}
		}
		quorum := r.RequiredApprovals() > 1
		if quorum && (edited != nil || in.Grant != nil) {
			return nil, Errorf(CodeConflict, "this request needs %d approvals: its params cannot be edited and it cannot create a grant", r.RequiredApprovals())
		}
		now := tx.Now()
		extra := map[string]any{}
		if edited != nil {
			if err := s.checkEdit(ctx, tx, r, in.Params, now); err != nil {
				return nil, err
			}
			extra["edited"] = true
			extra["paramsBefore"] = r.Params
			extra["paramsAfter"] = edited
			extra["changes"] = diffParams(r.Params, edited)
			r.ApprovedParams = edited
		}
		if quorum && in.Decision == StatusApproved {
			votes, err := tx.RequestAddVote(ctx, id, now)
			if err != nil {
				return nil, err
			}
			r.ApprovalVotes = votes
			if err := tx.DecisionInsert(ctx, &Decision{ID: NewID("dec_"), RequestID: id, Outcome: StatusApproved,
				ActorID: by.ID, ActorName: by.Name, ActorType: by.Type, Channel: by.Channel, Label: in.Label,
				Reason: in.Reason, CreatedAt: now}); err != nil {
				if errors.Is(err, ErrDuplicate) {
					return nil, Errorf(CodeConflict, "you have already approved this request (%d of %d approvals so far)", votes-1, r.RequiredApprovals())
				}
				return nil, err
			}
			if votes < r.RequiredApprovals() {
				r.UpdatedAt = now
				e := &AuditEvent{RequestID: id, EventType: EventVoted, Actor: by.Name, ActorID: by.ID, ActorType: by.Type, CreatedAt: now,
					Details: details(map[string]any{"vote": "approved", "reason": in.Reason, "votes": votes, "required": r.RequiredApprovals(), "channel": by.Channel})}
				if err := tx.AuditInsert(ctx, e); err != nil {
					return nil, err
				}
				req = r
				return []Event{{ID: e.ID, Type: EventRequestVoted, Request: r, Actor: by}}, nil
			}
			voters, err := s.voters(ctx, tx, r)
			if err != nil {
				return nil, err
			}
			extra["votes"] = votes
			extra["required"] = r.RequiredApprovals()
			extra["approvedBy"] = append(voters, by.Name)
		}
		r.Status = in.Decision
		r.DecidedAt = now
		r.UpdatedAt = now
		r.DecidedBy = by.Name
		r.DecidedByID = by.ID
		r.DecidedByType = by.Type
		r.DecidedByLabel = in.Label
		r.DecisionReason = in.Reason
		if err := tx.RequestDecide(ctx, r); err != nil {
			if errors.Is(err, ErrAlreadyDecided) {
				cur, gerr := tx.RequestGetByID(ctx, id)
				if gerr != nil {
					return nil, gerr
				}
				return nil, Wrap(CodeConflict, err, fmt.Sprintf("Request already %s", cur.Status))
			}
			return nil, err
		}
		auditID, err := s.recordDecisionDetails(ctx, tx, r, by, in.Label, !(quorum && in.Decision == StatusApproved), extra)
		if err != nil {
			return nil, err
		}
		if in.Grant != nil {
			if err := s.createGrant(ctx, tx, r, by, *in.Grant, now); err != nil {
				return nil, err
			}
		}
		req, final = r, true
		return []Event{{ID: auditID, Type: EventRequestDecided, Request: r, Actor: by}}, nil
	})
	if err != nil {
		return nil, err
	}
	if final {
		s.observer.RequestDecided(req.Status, by.Type, req.DecidedAt.Sub(req.CreatedAt))
	}
	return req, nil
}

// voters returns the names of the approving votes recorded so far.
func (s *Service) voters(ctx context.Context, tx Tx, r *Request) ([]string, error) {
	ds, err := tx.DecisionListByRequest(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ds {
		if d.Outcome == StatusApproved {
			out = append(out, d.ActorName)
		}
	}
	return out, nil
}

// authorizeDecider enforces separation of duties and who may decide: the
// quorum's "from" list when it has one, else the rule's approvers, else
// anyone allowed to decide. Lists may name identities (key names or ids,
// slack:U…, email:…) and groups ("group:NAME").
func (s *Service) authorizeDecider(ctx context.Context, tx Tx, r *Request, by Actor) error {
	if by.ID != "" && by.ID == r.AgentID {
		return Errorf(CodeForbidden, "the identity that created a request cannot decide it")
	}
	allowed := r.PolicyDecision.Approvers
	if q := r.PolicyDecision.Approvals; q != nil && len(q.From) > 0 {
		allowed = q.From
	}
	if len(allowed) == 0 {
		return nil
	}
	ok, err := s.isAllowed(ctx, tx, allowed, by)
	if err != nil || ok {
		return err
	}
	return Errorf(CodeForbidden, "only the rule's approvers may decide this request (%s)", strings.Join(allowed, ", "))
}

func (s *Service) isAllowed(ctx context.Context, tx Tx, allowed []string, by Actor) (bool, error) {
	ids := by.Identities()
	var groups map[string][]string
	for _, a := range allowed {
		name, isGroup := strings.CutPrefix(a, "group:")
		if !isGroup {
			if slices.Contains(ids, a) {
				return true, nil
			}
			continue
		}
		if groups == nil {
			gs, err := tx.GroupList(ctx)
			if err != nil {
				return false, err
			}
			groups = map[string][]string{}
			for _, g := range gs {
				groups[g.Name] = g.Members
			}
		}
		for _, m := range groups[name] {
			if slices.Contains(ids, m) {
				return true, nil
			}
		}
	}
	return false, nil
}

// checkEdit evaluates the policies on the edited request and refuses an
// edit they would deny.
func (s *Service) checkEdit(ctx context.Context, tx Tx, r *Request, params map[string]any, now time.Time) error {
	in, err := replayInput(r)
	if err != nil {
		return err
	}
	in.Params, in.Now = params, now
	set, err := s.policies.current(ctx, tx)
	if err != nil {
		return err
	}
	res := set.Evaluate(ctx, in)
	if res.Decision == policy.AutoDeny {
		return Errorf(CodeUnprocessable, "the edited request would be denied: %s", res.Reason)
	}
	return nil
}

// ParamChange is one top-level param an approver changed.
type ParamChange struct {
	Key    string          `json:"key"`
	Before json.RawMessage `json:"before"` // null when added
	After  json.RawMessage `json:"after"`  // null when removed
}

// diffParams lists the top-level params that differ between two objects.
func diffParams(before, after json.RawMessage) []ParamChange {
	var b, a map[string]json.RawMessage
	_ = json.Unmarshal(before, &b)
	_ = json.Unmarshal(after, &a)
	keys := map[string]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range a {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	out := []ParamChange{}
	for _, k := range sorted {
		if !jsonEqual(b[k], a[k]) {
			out = append(out, ParamChange{Key: k, Before: nullable(b[k]), After: nullable(a[k])})
		}
	}
	return out
}

func nullable(v json.RawMessage) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	return v
}

func jsonEqual(x, y json.RawMessage) bool {
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	var cx, cy bytes.Buffer
	if json.Compact(&cx, x) != nil || json.Compact(&cy, y) != nil {
		return bytes.Equal(x, y)
	}
	var vx, vy any
	_ = json.Unmarshal(cx.Bytes(), &vx)
	_ = json.Unmarshal(cy.Bytes(), &vy)
	bx, _ := json.Marshal(vx)
	by, _ := json.Marshal(vy)
	return bytes.Equal(bx, by)
}

// DecisionsOf returns a request's decisions and quorum votes, oldest first.
func (s *Service) DecisionsOf(ctx context.Context, id string) ([]*Decision, error) {
	return s.store.DecisionListByRequest(ctx, id)
}

// BatchResult is the outcome of one decision of a batch.
type BatchResult struct {
	ID      string
	Request *Request
	Err     error
}

// MaxBatch bounds a batch decision.
const MaxBatch = 100

// DecideBatch decides each request in ids in turn, each in its own
// transaction and subject to every rule above; one failure does not stop
// the others.
func (s *Service) DecideBatch(ctx context.Context, by Actor, ids []string, in DecideInput) ([]BatchResult, error) {
	if len(ids) == 0 || len(ids) > MaxBatch {
		return nil, Errorf(CodeInvalid, "ids must list between 1 and %d request ids", MaxBatch)
	}
	if in.Params != nil || in.RawParams != nil {
		return nil, Errorf(CodeInvalid, "a batch decision cannot edit params")
	}
	seen := map[string]bool{}
	out := make([]BatchResult, 0, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		r, err := s.Decide(ctx, by, id, in)
		out = append(out, BatchResult{ID: id, Request: r, Err: err})
	}
	return out, nil
}
