package approval

import (
	"context"
	"errors"
	"time"
)

// Escalate fires escalation step (0-based) of request id if the request is
// still pending and the step has not fired: its level moves with a
// compare-and-set, so a step fires at most once however many timers run,
// and never after a decision. It reports whether the step fired.
func (s *Service) Escalate(ctx context.Context, id string, step int) (bool, error) {
	fired := false
	err := s.change(ctx, func(tx Tx) ([]Event, error) {
		fired = false
		r, err := tx.RequestLock(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, nil // removed: nothing to escalate
		}
		if err != nil {
			return nil, err
		}
		steps := r.PolicyDecision.Escalate
		if r.Status != StatusPending || step < 0 || step >= len(steps) || r.EscalationLevel > step {
			return nil, nil
		}
		now := tx.Now()
		ok, err := tx.RequestEscalate(ctx, id, r.EscalationLevel, now)
		if err != nil || !ok {
			return nil, err
		}
		// A late timer may skip levels: the request jumps to this step.
		r.EscalationLevel = r.EscalationLevel + 1
		for r.EscalationLevel < step+1 {
			if ok, err := tx.RequestEscalate(ctx, id, r.EscalationLevel, now); err != nil || !ok {
				return nil, err
			}
			r.EscalationLevel++
		}
		r.UpdatedAt = now
		st := steps[step]
		e := &AuditEvent{RequestID: id, EventType: EventEscalated, Actor: SystemActor.Name, ActorID: SystemActor.ID,
			ActorType: ActorSystem, CreatedAt: now, Details: details(map[string]any{
				"step": step + 1, "of": len(steps), "after": time.Duration(st.After).String(), "to": st.To})}
		if err := tx.AuditInsert(ctx, e); err != nil {
			return nil, err
		}
		fired = true
		return []Event{{ID: e.ID, Type: EventRequestEscalated, Request: r, Actor: SystemActor}}, nil
	})
	return fired, err
}

// EscalationStep returns the step that fired last on r, if any.
func (r *Request) EscalationStep() (step int, ok bool) {
	if r.EscalationLevel == 0 || r.EscalationLevel > len(r.PolicyDecision.Escalate) {
		return 0, false
	}
	return r.EscalationLevel - 1, true
}
