package channels

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/policy"
)

// Config holds the Service's settings.
type Config struct {
	// PublicURL returns the server's public URL (AGENTGATE_BASE_URL, else
	// the listen address), for links to the dashboard. It is called for
	// every message, so a port chosen at listen time is seen.
	PublicURL func() string
	// Defaults are the targets of a request whose rule names no channels
	// (SLACK_DEFAULT_CHANNEL, DISCORD_DEFAULT_CHANNEL, EMAIL_DEFAULT_TO).
	Defaults []Target
	// MaxAttempts bounds the attempts of one post or update
	// (AGENTGATE_NOTIFY_MAX_ATTEMPTS). Defaults to 8: with River's backoff
	// (attempt⁴ seconds) the retries span about 80 minutes.
	MaxAttempts int
}

// DefaultMaxAttempts is Config.MaxAttempts' default.
const DefaultMaxAttempts = 8

// QueueName is the River queue of channel jobs, apart from the default
// queue so that a slow chat API cannot hold up expiry sweeps.
const QueueName = "channels"

// Service routes requests to channels and keeps their messages in step.
// It is safe for concurrent use once SetQueue has been called.
type Service struct {
	store     Store
	approvals *approval.Service
	queue     Queue
	cfg       Config
	log       *slog.Logger
	notifiers map[string]Notifier
}

var _ approval.SealHook = (*Service)(nil)

// NewService returns a Service. Register the notifiers and call SetQueue
// before use.
func NewService(store Store, approvals *approval.Service, cfg Config, log *slog.Logger) *Service {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.PublicURL == nil {
		cfg.PublicURL = func() string { return "" }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, approvals: approvals, cfg: cfg, log: log, notifiers: map[string]Notifier{}}
}

// Register makes n the notifier of its kind. It must be called before the
// Service is used concurrently.
func (s *Service) Register(n Notifier) { s.notifiers[n.Kind()] = n }

// SetQueue sets where jobs are enqueued. It must be called before the
// Service is used concurrently.
func (s *Service) SetQueue(q Queue) { s.queue = q }

// Approvals returns the approval service, for the interaction endpoints.
func (s *Service) Approvals() *approval.Service { return s.approvals }

// Store returns the store, for the email decision pages.
func (s *Service) Store() Store { return s.store }

// DashboardURL is the dashboard page of request id.
func (s *Service) DashboardURL(id string) string {
	return strings.TrimRight(s.cfg.PublicURL(), "/") + "/requests/" + url.PathEscape(id)
}

// Message renders request r as it is now (with its quorum votes) for n,
// which may be nil (interaction answers).
func (s *Service) Message(ctx context.Context, r *approval.Request, n *Notification) (*Message, error) {
	m := &Message{Request: r, Notification: n, DashboardURL: s.DashboardURL(r.ID)}
	if r.RequiredApprovals() > 1 {
		ds, err := s.approvals.DecisionsOf(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Outcome == approval.StatusApproved {
				m.Approvals = append(m.Approvals, d.ActorName)
			}
		}
	}
	return m, nil
}

// FirstUse records key (an interaction's signature) for ttl and reports
// whether it was new; false means the same signed payload was already
// handled: a replay. Every replica shares the record.
func (s *Service) FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	fresh := false
	err := s.store.WithChannelTx(ctx, func(tx Tx) error {
		var err error
		fresh, err = tx.InteractionRecord(ctx, key, tx.Now().Add(ttl))
		return err
	})
	return fresh, err
}

// announcement is a request to announce on targets.
type announcement struct {
	requestID string
	reason    string
	step      int
	targets   []string
}

// OnSealed implements approval.SealHook: it turns committed audit events
// into notification rows and jobs inside the sealing transaction, so an
// announcement or update exists exactly when the change it reports
// committed, and exactly once.
func (s *Service) OnSealed(ctx context.Context, atx approval.Tx, events []*approval.AuditEvent) error {
	var (
		announce []announcement
		changed  []string
	)
	for _, e := range events {
		if e.RequestID == "" {
			continue
		}
		switch e.EventType {
		case approval.EventCreated:
			if ts := s.createdTargets(e); len(ts) > 0 {
				announce = append(announce, announcement{requestID: e.RequestID, reason: ReasonCreated, targets: ts})
			}
		case approval.EventEscalated:
			var d struct {
				Step int      `json:"step"`
				To   []string `json:"to"`
			}
			if json.Unmarshal(e.Details, &d) == nil && len(d.To) > 0 {
				announce = append(announce, announcement{requestID: e.RequestID, reason: ReasonEscalated, step: d.Step, targets: d.To})
			}
			// The messages already out show the escalation too.
			if !slices.Contains(changed, e.RequestID) {
				changed = append(changed, e.RequestID)
			}
		case approval.EventApproved, approval.EventDenied, approval.EventExpired, approval.EventVoted:
			if !slices.Contains(changed, e.RequestID) {
				changed = append(changed, e.RequestID)
			}
		}
	}
	if len(announce) == 0 && len(changed) == 0 {
		return nil
	}
	tx, ok := atx.(Tx)
	if !ok {
		return errors.New("channels: the store's transaction does not support notifications")
	}
	now := tx.Now()
	var (
		ns     []*Notification
		failed []*Notification
		jobs   []river.InsertManyParams
	)
	// Updates first, of the messages that exist before this batch's
	// announcements (a new message renders the current state anyway).
	if len(changed) > 0 {
		existing, err := tx.NotificationListByRequests(ctx, changed)
		if err != nil {
			return err
		}
		for _, n := range existing {
			nt := s.notifiers[n.Channel]
			if nt == nil || !nt.Updatable() || (n.Status != StatusSent && n.Status != StatusPending) {
				continue
			}
			jobs = append(jobs, river.InsertManyParams{Args: UpdateArgs{NotificationID: n.ID}, InsertOpts: s.insertOpts()})
		}
	}
	for _, a := range announce {
		r, err := atx.RequestGetByID(ctx, a.requestID)
		if errors.Is(err, approval.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("channels: load request %s: %w", a.requestID, err)
		}
		// Decided before this seal (a grant, a fast decision): there is
		// nothing left to ask anyone.
		if r.Status != approval.StatusPending {
			continue
		}
		seen := map[string]bool{}
		for _, raw := range a.targets {
			n := &Notification{ID: approval.NewID("ntf_"), RequestID: r.ID, Reason: a.reason, Step: a.step,
				Status: StatusPending, CreatedAt: now, UpdatedAt: now}
			t, err := ParseTarget(raw)
			if err != nil {
				n.Channel, n.Target, _ = strings.Cut(raw, ":")
				n.Status, n.LastError = StatusFailed, err.Error()
			} else {
				if seen[t.String()] {
					continue
				}
				seen[t.String()] = true
				n.Channel, n.Target = t.Kind, t.Address
				if err := s.usable(t.Kind); err != nil {
					n.Status, n.LastError = StatusFailed, err.Error()
				}
			}
			ns = append(ns, n)
			if n.Status == StatusFailed {
				failed = append(failed, n)
				continue
			}
			jobs = append(jobs, river.InsertManyParams{Args: PostArgs{NotificationID: n.ID}, InsertOpts: s.insertOpts()})
		}
	}
	if len(ns) > 0 {
		if err := tx.NotificationInsert(ctx, ns); err != nil {
			return err
		}
	}
	for _, n := range failed {
		if err := tx.AuditInsert(ctx, failureEvent(n, "post", n.LastError, 0, true, now)); err != nil {
			return err
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	if s.queue == nil {
		// Refuse to seal rather than lose the notifications.
		return errors.New("channels: no job queue configured")
	}
	return s.queue.InsertManyTx(ctx, tx.SQL(), jobs)
}

// createdTargets returns where a new request goes: nowhere unless its
// policy routed it to people, else its rule's channels or the defaults.
// The policy decision is in the created event, so requests decided by a
// policy cost no read.
func (s *Service) createdTargets(e *approval.AuditEvent) []string {
	var d struct {
		PolicyDecision approval.PolicyDecision `json:"policyDecision"`
	}
	if json.Unmarshal(e.Details, &d) != nil || d.PolicyDecision.Decision != string(policy.RouteToHuman) {
		return nil
	}
	if len(d.PolicyDecision.Channels) > 0 {
		return d.PolicyDecision.Channels
	}
	out := make([]string, len(s.cfg.Defaults))
	for i, t := range s.cfg.Defaults {
		out[i] = t.String()
	}
	return out
}

// setting names the variable that turns a channel kind on.
var setting = map[string]string{
	KindSlack:   "Slack is not configured (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)",
	KindDiscord: "Discord is not configured (set DISCORD_BOT_TOKEN and DISCORD_PUBLIC_KEY)",
	KindEmail:   "email is not configured (set SMTP_HOST and SMTP_FROM)",
}

// usable reports why kind cannot be used, or nil.
func (s *Service) usable(kind string) error {
	if s.notifiers[kind] != nil {
		return nil
	}
	if msg, ok := setting[kind]; ok {
		return errors.New(msg)
	}
	return fmt.Errorf("unknown channel kind %q (known: slack, discord, email)", kind)
}

func (s *Service) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: QueueName, MaxAttempts: s.cfg.MaxAttempts}
}

// failureEvent is the timeline entry of a failed post or update.
func failureEvent(n *Notification, op, errText string, attempt int, final bool, now time.Time) *approval.AuditEvent {
	det := map[string]any{"channel": n.Channel, "target": n.Target, "notificationId": n.ID, "trigger": n.Reason,
		"operation": op, "error": errText, "final": final}
	if attempt > 0 {
		det["attempt"] = attempt
	}
	if n.Step > 0 {
		det["step"] = n.Step
	}
	return auditEvent(n, approval.EventNotificationFailed, det, now)
}

func auditEvent(n *Notification, typ string, det map[string]any, now time.Time) *approval.AuditEvent {
	b, err := json.Marshal(det)
	if err != nil {
		b = []byte(`{}`)
	}
	return &approval.AuditEvent{RequestID: n.RequestID, EventType: typ, Actor: approval.SystemActor.Name,
		ActorID: approval.SystemActor.ID, ActorType: approval.ActorSystem, Details: b, CreatedAt: now}
}
