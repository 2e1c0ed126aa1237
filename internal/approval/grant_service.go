package approval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/policy"
)

// grantConditions validates a grant's param conditions by compiling them
// as the match of an auto-approve rule.
func grantConditions(cond map[string]any) (*policy.Set, error) {
	set, err := policy.Compile([]policy.Policy{{ID: "grant", Name: "grant", Enabled: true,
		Rules: []policy.Rule{{Match: cond, Decision: policy.AutoApprove}}}})
	if err != nil {
		return nil, policyError(err)
	}
	return set, nil
}

// createGrant stores the grant an approval asked for.
func (s *Service) createGrant(ctx context.Context, tx Tx, r *Request, by Actor, in GrantInput, now time.Time) error {
	if in.Conditions != nil {
		if _, err := grantConditions(in.Conditions); err != nil {
			return err
		}
	}
	g := &Grant{
		ID:          NewID("grt_"),
		AgentID:     r.AgentID,
		Action:      r.Action,
		Conditions:  in.Conditions,
		ExpiresAt:   now.Add(in.Duration),
		MaxUses:     in.MaxUses,
		RequestID:   r.ID,
		CreatedBy:   by.Name,
		CreatedByID: by.ID,
		CreatedAt:   now,
	}
	if err := tx.GrantInsert(ctx, g); err != nil {
		return err
	}
	return tx.AuditInsert(ctx, &AuditEvent{RequestID: r.ID, EventType: EventGrantCreated, Actor: by.Name, ActorID: by.ID,
		ActorType: by.Type, CreatedAt: now, Details: details(map[string]any{"grantId": g.ID, "agentId": g.AgentID,
			"action": g.Action, "conditions": g.Conditions, "expiresAt": formatTime(g.ExpiresAt), "maxUses": g.MaxUses})})
}

// useGrant approves r with the first usable grant of its agent and action
// whose conditions match, taking one use atomically. It returns the grant
// used, or nil.
func (s *Service) useGrant(ctx context.Context, tx Tx, r *Request, in CreateInput, now time.Time) (*Grant, error) {
	grants, err := tx.GrantListUsable(ctx, r.AgentID, r.Action, now)
	if err != nil || len(grants) == 0 {
		return nil, err
	}
	for _, g := range grants {
		if g.Conditions != nil {
			set, err := grantConditions(g.Conditions)
			if err != nil {
				continue // stored conditions that no longer compile never approve
			}
			res := set.Evaluate(ctx, policy.Input{Action: r.Action, Params: in.Params, Context: in.Context,
				Urgency: string(r.Urgency), Agent: policy.Agent{ID: r.AgentID, Name: r.AgentName}, Now: now})
			if res.Decision != policy.AutoApprove || len(res.Errors) > 0 {
				continue
			}
		}
		ok, err := tx.GrantUse(ctx, g.ID, now)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // used up by a concurrent request
		}
		g.Uses++
		uses := fmt.Sprintf("use %d", g.Uses)
		if g.MaxUses != nil {
			uses = fmt.Sprintf("use %d of %d", g.Uses, *g.MaxUses)
		}
		r.Status = StatusApproved
		r.DecidedAt, r.DecidedBy, r.DecidedByID, r.DecidedByType = now, "grant", g.ID, ActorGrant
		r.DecisionReason = fmt.Sprintf("Approved by grant %s (given by %s when approving %s; %s, valid until %s)",
			g.ID, g.CreatedBy, g.RequestID, uses, formatTime(g.ExpiresAt))
		r.GrantID = g.ID
		return g, nil
	}
	return nil, nil
}

// grantUsedAudit records one use of g on request r.
func grantUsedAudit(r *Request, g *Grant, now time.Time) *AuditEvent {
	return &AuditEvent{RequestID: r.ID, EventType: EventGrantUsed, Actor: "grant", ActorID: g.ID, ActorType: ActorGrant,
		CreatedAt: now, Details: details(map[string]any{"grantId": g.ID, "uses": g.Uses, "maxUses": g.MaxUses, "createdBy": g.CreatedBy})}
}

// Grants lists grants, newest first.
func (s *Service) Grants(ctx context.Context, f GrantFilter) ([]*Grant, int64, error) {
	if err := validatePage(&f.Limit, &f.Offset); err != nil {
		return nil, 0, err
	}
	return s.store.GrantList(ctx, f, time.Now().UTC())
}

// RevokeGrant ends grant id at once.
func (s *Service) RevokeGrant(ctx context.Context, by Actor, id string) (*Grant, error) {
	var out *Grant
	err := s.change(ctx, func(tx Tx) ([]Event, error) {
		g, err := tx.GrantGetByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, Wrap(CodeNotFound, err, "Grant not found")
		}
		if err != nil {
			return nil, err
		}
		now := tx.Now()
		if g.RevokedAt.IsZero() {
			if err := tx.GrantRevoke(ctx, id, by.Name, now); err != nil {
				return nil, err
			}
			g.RevokedAt, g.RevokedBy = now, by.Name
			if err := tx.AuditInsert(ctx, &AuditEvent{RequestID: g.RequestID, EventType: EventGrantRevoked, Actor: by.Name,
				ActorID: by.ID, ActorType: by.Type, CreatedAt: now, Details: details(map[string]any{"grantId": id})}); err != nil {
				return nil, err
			}
		}
		out = g
		return nil, nil
	})
	return out, err
}
