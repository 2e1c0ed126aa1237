// Package channels announces requests on Slack, Discord and email, keeps
// every message it sent in step with the request, and lets people decide
// from where they read.
//
// # Durability
//
// The audit trail is the outbox (as for webhooks): the Service is an
// approval.SealHook, so each committed audit event reaches it exactly once,
// in commit order, inside the sealing transaction. There it records one
// notification row per channel target of a request that waits for people
// (its rule's channels, else the configured defaults; an escalation step's
// "to" channels) and enqueues one River job per row, in the same
// transaction. A decision, a quorum vote or an expiry enqueues an update
// job for every message already sent about the request, whatever channel
// the decision came from. Jobs run in their own queue with retries; each
// attempt's outcome is kept on the notification row and the first and
// final failures (and every success) are written to the request's
// timeline as notification.sent / notification.failed audit events.
//
// # Consistency
//
// Messages always show the request's current state: a worker renders the
// request as it is when the job runs, and after posting or updating it
// reads the request again and updates once more if it changed meanwhile,
// so concurrent jobs converge on the newest state.
//
// # Sub-packages
//
// slack, discord and email implement Notifier for their channel and serve
// the endpoints people decide through (interactivity endpoints verified
// with the platforms' signatures; single-use, scanner-safe email decision
// links).
package channels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
)

// Channel kinds, as written before the colon of a rule's channel entry.
const (
	KindSlack   = "slack"
	KindDiscord = "discord"
	KindEmail   = "email"
)

// Notification statuses.
const (
	StatusPending = "pending" // waiting for its first or next attempt
	StatusSent    = "sent"    // the message exists; updates follow the request
	StatusFailed  = "failed"  // no message: the last attempt failed, or the channel cannot be used
	StatusSkipped = "skipped" // the request was decided before the message went out
)

// Why a notification was sent.
const (
	ReasonCreated   = "created"   // the request was routed to people
	ReasonEscalated = "escalated" // an escalation step fired
)

// Notification is one message about a request on one channel target.
type Notification struct {
	ID        string
	RequestID string
	Channel   string // KindSlack, KindDiscord, KindEmail (or an unknown kind, failed)
	Target    string // as routed: "#ops", "C123", a Discord channel id, an address
	Reason    string // ReasonCreated or ReasonEscalated
	Step      int    // the escalation step (1-based) for ReasonEscalated
	Status    string
	// ExternalChannel and ExternalID locate the message for updates: Slack
	// channel id and ts, Discord channel id and message id, the email's
	// Message-ID.
	ExternalChannel string
	ExternalID      string
	Attempts        int
	LastError       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	SentAt          time.Time
}

// Target is a parsed channel entry such as "slack:#ops".
type Target struct {
	Kind    string
	Address string
}

func (t Target) String() string { return t.Kind + ":" + t.Address }

// ParseTarget parses "kind:address". Kinds other than slack, discord and
// email are returned as they are (the caller records them as failed);
// the address must be non-empty and free of blanks and control
// characters, and an email address must be a bare address.
func ParseTarget(s string) (Target, error) {
	kind, addr, ok := strings.Cut(strings.TrimSpace(s), ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	addr = strings.TrimSpace(addr)
	if !ok || kind == "" || addr == "" {
		return Target{}, fmt.Errorf("channel %q is not of the form kind:target (slack:#ops, discord:123, email:ops@example.com)", s)
	}
	if len(addr) > 320 || strings.ContainsFunc(addr, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return Target{}, fmt.Errorf("channel %q has an invalid target", s)
	}
	switch kind {
	case KindEmail:
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr {
			return Target{}, fmt.Errorf("channel %q: %q is not an email address", s, addr)
		}
	case KindDiscord:
		for _, c := range addr {
			if c < '0' || c > '9' {
				return Target{}, fmt.Errorf("channel %q: a Discord target is a channel id (digits)", s)
			}
		}
	}
	return Target{Kind: kind, Address: addr}, nil
}

// Message is what a notifier renders: a request as it is now, with what a
// reader needs to act on it.
type Message struct {
	Request *approval.Request
	// Approvals lists the names of the approving votes so far (quorum).
	Approvals []string
	// DashboardURL opens the request in the dashboard.
	DashboardURL string
	// Notification is the row being posted or updated.
	Notification *Notification
}

// Sent locates a posted message.
type Sent struct {
	Channel string // Slack or Discord channel id
	ID      string // Slack ts, Discord message id, email Message-ID
}

// Notifier posts and updates messages on one kind of channel. Post and
// Update must be safe for concurrent use.
type Notifier interface {
	// Kind is KindSlack, KindDiscord or KindEmail.
	Kind() string
	// Post sends m to n.Target. Errors wrapped with Permanent are not
	// retried.
	Post(ctx context.Context, n *Notification, m *Message) (Sent, error)
	// Updatable reports whether posted messages can be changed (Slack and
	// Discord; an email cannot).
	Updatable() bool
	// Update makes n's message show m.
	Update(ctx context.Context, n *Notification, m *Message) error
}

// PermanentError is a failure that retrying cannot fix (an unknown
// channel, a revoked token, a refused address).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// DecisionLink is one single-use email decision link. The token itself is
// only in the email; the store keeps its SHA-256.
type DecisionLink struct {
	ID             string
	TokenHash      string
	RequestID      string
	NotificationID string
	Recipient      string          // the address the link was sent to
	Decision       approval.Status // StatusApproved or StatusDenied
	ExpiresAt      time.Time
	UsedAt         time.Time // set on the link that decided
	InvalidatedAt  time.Time // set on its siblings when one was used
	CreatedAt      time.Time
}

// Store is the persistence the package needs; internal/store implements
// it. Reads run outside transactions. Methods return approval.ErrNotFound
// for a missing row.
type Store interface {
	WithChannelTx(ctx context.Context, fn func(tx Tx) error) error
	NotificationGetByID(ctx context.Context, id string) (*Notification, error)
	// NotificationListByRequest returns a request's notifications, oldest first.
	NotificationListByRequest(ctx context.Context, requestID string) ([]*Notification, error)
	DecisionLinkGetByHash(ctx context.Context, hash string) (*DecisionLink, error)
}

// Tx is a write transaction; the store's transaction type implements it
// along with approval.Tx, which is how the seal hook and decision claims
// reach it.
type Tx interface {
	Now() time.Time
	// SQL is the underlying transaction, for River's InsertTx.
	SQL() *sql.Tx
	AuditInsert(ctx context.Context, e *approval.AuditEvent) error

	RequestGetByID(ctx context.Context, id string) (*approval.Request, error)

	NotificationInsert(ctx context.Context, ns []*Notification) error
	// NotificationLock reads notification id and holds it against
	// concurrent changes until the transaction ends.
	NotificationLock(ctx context.Context, id string) (*Notification, error)
	// NotificationListByRequests returns the notifications of the given
	// requests, oldest first.
	NotificationListByRequests(ctx context.Context, requestIDs []string) ([]*Notification, error)
	// NotificationUpdate writes n's status, external ids, attempts, last
	// error and times.
	NotificationUpdate(ctx context.Context, n *Notification) error

	// DecisionLinkReplace replaces the unused links of a notification
	// (those of an earlier, failed attempt) with links.
	DecisionLinkReplace(ctx context.Context, notificationID string, links []*DecisionLink) error
	// DecisionLinkUse spends link id if it is unused, not invalidated and
	// not expired at now, and invalidates the other unused links of the
	// same request and recipient. It reports whether it spent the link.
	DecisionLinkUse(ctx context.Context, id string, now time.Time) (bool, error)

	// InteractionRecord remembers key until expires and reports whether
	// it was new (false: a replay). Expired keys are forgotten.
	InteractionRecord(ctx context.Context, key string, expires time.Time) (bool, error)
}

// Queue enqueues River jobs inside a store transaction; jobs.Runner
// implements it.
type Queue interface {
	InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error
}
