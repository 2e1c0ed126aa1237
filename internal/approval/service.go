// Package approval is the domain of AgentGate: requests, decisions, expiry
// and the audit trail. It knows nothing of HTTP or SQL: transports call the
// Service, and the Service talks to a Store, a policy set and a Publisher.
package approval

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/internal/policy"
)

// Config holds the Service's settings.
type Config struct {
	// DefaultTimeout is the expiry given to a pending request that names
	// none and whose rule has no timeout. Zero means requests without an
	// expiry never expire. Defaults to one hour.
	DefaultTimeout time.Duration
	// MaxParamsKeys bounds the keys of params and of context, each counted
	// through every nested object (AGENTGATE_MAX_PARAMS_KEYS). Defaults to
	// DefaultMaxParamsKeys.
	MaxParamsKeys int
}

// Observer receives measurements; the metrics package implements it.
type Observer interface {
	RequestCreated(outcome Status)
	RequestDecided(outcome Status, by ActorType, latency time.Duration)
	PolicyEvalError(policyName string)
}

type nopObserver struct{}

func (nopObserver) RequestCreated(Status)                           {}
func (nopObserver) RequestDecided(Status, ActorType, time.Duration) {}
func (nopObserver) PolicyEvalError(string)                          {}

// Service implements the approval workflow. It is safe for concurrent use.
type Service struct {
	store     Store
	pub       Publisher
	hooks     []TxHook
	observer  Observer
	log       *slog.Logger
	cfg       Config
	policies  *policyCache
	watcher   Watcher
	sealHooks []SealHook
	sealNudge chan struct{} // wakes the sealer after a change with events
}

// Options are the Service's optional collaborators.
type Options struct {
	Publisher Publisher // nil: events are dropped
	Hooks     []TxHook
	Observer  Observer
	Logger    *slog.Logger
	Watcher   Watcher // nil: Wait returns the current state at once
}

// NewService returns a Service on store.
func NewService(store Store, cfg Config, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if cfg.MaxParamsKeys <= 0 {
		cfg.MaxParamsKeys = DefaultMaxParamsKeys
	}
	return &Service{
		store:     store,
		pub:       opts.Publisher,
		hooks:     opts.Hooks,
		observer:  opts.Observer,
		log:       opts.Logger,
		cfg:       cfg,
		policies:  &policyCache{log: opts.Logger},
		watcher:   opts.Watcher,
		sealNudge: make(chan struct{}, 1),
	}
}

// AddHook registers h for every later state change. It must be called
// before the Service is used concurrently.
func (s *Service) AddHook(h TxHook) { s.hooks = append(s.hooks, h) }

// AddSealHook registers h to run on every sealed batch of audit events. It
// must be called before the Service is used concurrently.
func (s *Service) AddSealHook(h SealHook) { s.sealHooks = append(s.sealHooks, h) }

// SetPublisher replaces the publisher. It must be called before the
// Service is used concurrently.
func (s *Service) SetPublisher(p Publisher) { s.pub = p }

// change runs fn in a transaction, runs the hooks on the events fn
// returns, commits, and then publishes the events.
func (s *Service) change(ctx context.Context, fn func(tx Tx) ([]Event, error)) error {
	var events []Event
	err := s.store.WithTx(ctx, func(tx Tx) error {
		var err error
		events, err = fn(tx)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		for _, h := range s.hooks {
			if err := h.OnEvents(ctx, tx, events); err != nil {
				return fmt.Errorf("event hook: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.pub != nil && len(events) > 0 {
		s.pub.Publish(context.WithoutCancel(ctx), events...)
	}
	if len(events) > 0 {
		select {
		case s.sealNudge <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return nil
}

// NewID returns a new time-ordered id with the given prefix, e.g. "req_".
func NewID(prefix string) string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does; a random
		// v4 is then as good an id.
		id = uuid.New()
	}
	return prefix + id.String()
}

// Create validates in, evaluates the policies and stores the request, in
// one transaction with its audit events. A request the policies decide is
// stored already decided. With an idempotency key, a retry with the same
// input returns the original request and replayed = true; a different
// input is CodeUnprocessable.
func (s *Service) Create(ctx context.Context, agent Actor, in CreateInput) (req *Request, replayed bool, err error) {
	if err := in.Validate(time.Now()); err != nil {
		return nil, false, err
	}
	if err := in.CheckKeys(s.cfg.MaxParamsKeys); err != nil {
		return nil, false, err
	}
	params, err := objectJSON(in.RawParams, in.Params)
	if err != nil {
		return nil, false, Wrap(CodeInvalid, err, "params must be a JSON object")
	}
	rctx, err := objectJSON(in.RawContext, in.Context)
	if err != nil {
		return nil, false, Wrap(CodeInvalid, err, "context must be a JSON object")
	}
	hash := ""
	if in.IdempotencyKey != "" {
		hash = requestHash(in, params, rctx)
	}
	for attempt := 0; ; attempt++ {
		req, replayed, err = s.create(ctx, agent, in, params, rctx, hash)
		// Two creates with one new idempotency key can race on PostgreSQL;
		// the loser's retry finds the winner's request.
		if errors.Is(err, ErrDuplicate) && in.IdempotencyKey != "" && attempt == 0 {
			continue
		}
		return req, replayed, err
	}
}

func (s *Service) create(ctx context.Context, agent Actor, in CreateInput, params, rctx json.RawMessage, hash string) (*Request, bool, error) {
	var req *Request
	replayed := false
	err := s.change(ctx, func(tx Tx) ([]Event, error) {
		now := tx.Now()
		if in.IdempotencyKey != "" {
			prev, err := tx.RequestGetByIdempotencyKey(ctx, agent.ID, in.IdempotencyKey)
			switch {
			case err == nil:
				if prev.RequestHash != hash {
					return nil, Errorf(CodeUnprocessable, "Idempotency-Key %q was already used with a different request", in.IdempotencyKey)
				}
				req, replayed = prev, true
				return nil, nil
			case !errors.Is(err, ErrNotFound):
				return nil, err
			}
		}
		set, err := s.policies.current(ctx, tx)
		if err != nil {
			return nil, err
		}
		res := set.Evaluate(ctx, policy.Input{
			Action:  in.Action,
			Params:  in.Params,
			Context: in.Context,
			Urgency: string(in.Urgency),
			Agent:   policy.Agent{ID: agent.ID, Name: agent.Name},
			Now:     now,
		})
		for _, e := range res.Errors {
			s.observer.PolicyEvalError(e.PolicyName)
			s.log.Warn("policy condition failed; the rule did not match", "policy_id", e.PolicyID, "policy", e.PolicyName, "rule_index", e.RuleIndex, "err", e.Err)
		}
		res = failClosed(res)
		r := &Request{
			ID:             NewID("req_"),
			Action:         in.Action,
			Params:         params,
			Context:        rctx,
			Urgency:        in.Urgency,
			Status:         StatusPending,
			CreatedAt:      now,
			UpdatedAt:      now,
			ExpiresAt:      in.ExpiresAt.UTC(),
			PolicyDecision: toPolicyDecision(res),
			AgentID:        agent.ID,
			AgentName:      agent.Name,
			IdempotencyKey: in.IdempotencyKey,
			RequestHash:    hash,
		}
		if in.ExpiresAt.IsZero() {
			r.ExpiresAt = time.Time{}
			switch {
			case res.Rule != nil && res.Rule.Timeout > 0:
				r.ExpiresAt = now.Add(time.Duration(res.Rule.Timeout))
			case s.cfg.DefaultTimeout > 0:
				r.ExpiresAt = now.Add(s.cfg.DefaultTimeout)
			}
		}
		events := []Event{{Type: EventRequestCreated, Request: r, Actor: agent}}
		switch res.Decision {
		case policy.AutoApprove:
			r.Status = StatusApproved
		case policy.AutoDeny:
			r.Status = StatusDenied
		}
		if r.Status != StatusPending {
			r.DecidedAt = now
			r.DecidedBy = "policy"
			r.DecidedByID = res.PolicyID
			r.DecidedByType = ActorPolicy
			r.DecisionReason = res.Reason
		}
		var grant *Grant
		if r.Status == StatusPending && r.RequiredApprovals() == 1 {
			if grant, err = s.useGrant(ctx, tx, r, in, now); err != nil {
				return nil, err
			}
		}
		if err := tx.RequestInsert(ctx, r); err != nil {
			return nil, err
		}
		created := &AuditEvent{
			RequestID: r.ID,
			EventType: EventCreated,
			Actor:     agent.Name,
			ActorID:   agent.ID,
			ActorType: ActorAgent,
			Details: details(map[string]any{
				"action":         r.Action,
				"params":         r.Params,
				"context":        r.Context,
				"urgency":        r.Urgency,
				"expiresAt":      formatTime(r.ExpiresAt),
				"policyDecision": r.PolicyDecision,
				"channel":        agent.Channel,
			}),
			CreatedAt: now,
		}
		if err := tx.AuditInsert(ctx, created); err != nil {
			return nil, err
		}
		events[0].ID = created.ID
		if r.Status != StatusPending {
			by := Actor{ID: res.PolicyID, Name: "policy", Type: ActorPolicy, Channel: "policy"}
			var extra map[string]any
			if grant != nil {
				if err := tx.AuditInsert(ctx, grantUsedAudit(r, grant, now)); err != nil {
					return nil, err
				}
				by = Actor{ID: grant.ID, Name: "grant", Type: ActorGrant, Channel: "grant"}
				extra = map[string]any{"grantId": grant.ID, "grantUses": grant.Uses, "grantCreatedBy": grant.CreatedBy}
			}
			auditID, err := s.recordDecisionDetails(ctx, tx, r, by, "", true, extra)
			if err != nil {
				return nil, err
			}
			events = append(events, Event{ID: auditID, Type: EventRequestDecided, Request: r, Actor: by})
		}
		req = r
		return events, nil
	})
	if err != nil {
		return nil, false, err
	}
	if !replayed {
		s.observer.RequestCreated(req.Status)
	}
	return req, replayed, nil
}

// failClosed refuses to auto-approve when a condition failed on the way:
// the failed rule might have been the auto_deny that should have decided.
// Such a request goes to a person instead.
func failClosed(res policy.Result) policy.Result {
	if len(res.Errors) == 0 || res.Decision != policy.AutoApprove {
		return res
	}
	e := res.Errors[0]
	res.Decision = policy.RouteToHuman
	res.Reason = fmt.Sprintf("%s; but a condition of policy %q rule %d failed to evaluate (%v), so the request goes to a person instead of being approved automatically",
		res.Reason, e.PolicyName, e.RuleIndex, e.Err)
	return res
}

func toPolicyDecision(res policy.Result) PolicyDecision {
	pd := PolicyDecision{
		Decision:   string(res.Decision),
		PolicyID:   res.PolicyID,
		PolicyName: res.PolicyName,
		Reason:     res.Reason,
	}
	if res.RuleIndex >= 0 && res.Rule != nil {
		i := res.RuleIndex
		pd.RuleIndex = &i
		pd.Approvers = res.Rule.Approvers
		pd.Channels = res.Rule.Channels
		pd.RequireReason = res.Rule.RequireReason
		pd.OnTimeout = res.Rule.OnTimeout
		pd.Approvals = res.Rule.Approvals
		pd.Escalate = res.Rule.Escalate
	}
	return pd
}

// recordDecision writes the decision row and its audit event for r, which
// already carries its new status and decision fields.
func (s *Service) recordDecision(ctx context.Context, tx Tx, r *Request, by Actor, label string) (int64, error) {
	return s.recordDecisionDetails(ctx, tx, r, by, label, true, nil)
}

// recordDecisionDetails is recordDecision; insertRow false skips the
// decision row (a quorum's final vote already wrote it), and extra adds to
// the audit event's details.
func (s *Service) recordDecisionDetails(ctx context.Context, tx Tx, r *Request, by Actor, label string, insertRow bool, extra map[string]any) (int64, error) {
	d := &Decision{
		ID:        NewID("dec_"),
		RequestID: r.ID,
		Outcome:   r.Status,
		ActorID:   by.ID,
		ActorName: by.Name,
		ActorType: by.Type,
		Channel:   by.Channel,
		Label:     label,
		Reason:    r.DecisionReason,
		CreatedAt: r.DecidedAt,
	}
	if insertRow {
		if err := tx.DecisionInsert(ctx, d); err != nil {
			return 0, err
		}
	}
	eventType := EventApproved
	switch r.Status {
	case StatusDenied:
		eventType = EventDenied
	case StatusExpired:
		eventType = EventExpired
	}
	det := map[string]any{
		"decision":      r.Status,
		"reason":        r.DecisionReason,
		"decidedByType": by.Type,
		"channel":       by.Channel,
		"automatic":     by.Type != ActorHuman,
	}
	if label != "" {
		det["label"] = label
	}
	for k, v := range extra {
		det[k] = v
	}
	e := &AuditEvent{
		RequestID: r.ID,
		EventType: eventType,
		Actor:     by.Name,
		ActorID:   by.ID,
		ActorType: by.Type,
		Details:   details(det),
		CreatedAt: r.DecidedAt,
	}
	if err := tx.AuditInsert(ctx, e); err != nil {
		return 0, err
	}
	return e.ID, nil
}

// Get returns the request with id, or a CodeNotFound error.
func (s *Service) Get(ctx context.Context, id string) (*Request, error) {
	r, err := s.store.RequestGetByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Wrap(CodeNotFound, err, "Request not found")
	}
	return r, err
}

// List returns a page of requests matching f and the total count.
func (s *Service) List(ctx context.Context, f RequestFilter) ([]*Request, int64, error) {
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	return s.store.RequestList(ctx, f)
}

// CountPending returns the number of pending requests.
func (s *Service) CountPending(ctx context.Context) (int64, error) {
	return s.store.RequestCountByStatus(ctx, StatusPending)
}

// SystemActor is the actor of automatic transitions such as expiry.
var SystemActor = Actor{ID: "system", Name: "system", Type: ActorSystem, Channel: "system"}

// ExpireDue ends up to limit pending requests whose expiry has passed:
// each becomes expired, or approved/denied when its rule's onTimeout says
// so, recorded as decided by the system. Each transition is a
// compare-and-set, so concurrent sweeps (several processes) end each
// request exactly once. It returns how many requests it ended.
func (s *Service) ExpireDue(ctx context.Context, limit int) (int, error) {
	var done []*Request
	err := s.change(ctx, func(tx Tx) ([]Event, error) {
		done = done[:0]
		now := tx.Now()
		due, err := tx.RequestListDue(ctx, now, limit)
		if err != nil {
			return nil, err
		}
		var events []Event
		for _, r := range due {
			r.DecidedAt, r.UpdatedAt = now, now
			r.DecidedBy, r.DecidedByID, r.DecidedByType = SystemActor.Name, SystemActor.ID, ActorSystem
			switch r.PolicyDecision.OnTimeout {
			case "approve":
				r.Status = StatusApproved
				r.DecisionReason = "Approved automatically: no decision before the request expired (rule onTimeout: approve)"
			case "deny":
				r.Status = StatusDenied
				r.DecisionReason = "Denied automatically: no decision before the request expired (rule onTimeout: deny)"
			default:
				r.Status = StatusExpired
				r.DecisionReason = "No decision before the request expired"
			}
			if err := tx.RequestDecide(ctx, r); err != nil {
				if errors.Is(err, ErrAlreadyDecided) {
					continue
				}
				return nil, err
			}
			auditID, err := s.recordDecision(ctx, tx, r, SystemActor, "")
			if err != nil {
				return nil, err
			}
			typ := EventRequestDecided
			if r.Status == StatusExpired {
				typ = EventRequestExpired
			}
			events = append(events, Event{ID: auditID, Type: typ, Request: r, Actor: SystemActor})
			done = append(done, r)
		}
		return events, nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range done {
		s.observer.RequestDecided(r.Status, ActorSystem, r.DecidedAt.Sub(r.CreatedAt))
	}
	return len(done), nil
}

// RequestAudit returns the audit trail of request id, oldest first.
func (s *Service) RequestAudit(ctx context.Context, id string) ([]*AuditEvent, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.store.AuditListByRequest(ctx, id)
}

// Audit returns a page of audit events, newest first, and the total.
func (s *Service) Audit(ctx context.Context, f AuditFilter) ([]*AuditEvent, int64, error) {
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	return s.store.AuditList(ctx, f)
}

// Ping checks that the store answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// objectJSON returns the stored form of a JSON object: raw compacted when
// the caller kept the original bytes (so numbers keep their exact text),
// else m encoded.
func objectJSON(raw json.RawMessage, m map[string]any) (json.RawMessage, error) {
	if len(raw) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	if m == nil {
		return json.RawMessage(`{}`), nil
	}
	return json.Marshal(m)
}

// requestHash identifies a creation input for idempotent retries.
func requestHash(in CreateInput, params, rctx json.RawMessage) string {
	h := sha256.New()
	for _, part := range []string{in.Action, string(params), string(rctx), string(in.Urgency), formatTime(in.ExpiresAt)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// formatTime renders t as RFC 3339 with milliseconds in UTC, or "" for the
// zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// TimeFormat is the wire format of times: RFC 3339, milliseconds, UTC.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"
