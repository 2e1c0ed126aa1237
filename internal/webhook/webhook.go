// Package webhook delivers AgentGate's events to HTTP subscribers and never
// loses one.
//
// # Durability
//
// Every request change writes its audit events in its own transaction, and
// the audit trail is the outbox: the Service is an approval.SealHook, so
// the sealer hands it each committed event exactly once, in commit order,
// inside the sealing transaction. There it writes no delivery: for each
// enabled webhook that wants at least one event of the sealed batch it
// enqueues one River job naming the webhook and the batch's range of
// sequence numbers (BatchArgs), so the seal costs O(webhooks), not
// O(events × webhooks). The job commits with the seal, so a crash can
// neither lose an event nor invent one, and creating a request does no
// webhook work at all.
//
// The batch job reads the sealed events of its range and their requests,
// builds each payload as of its event, POSTs the deliveries (at most
// Config.Concurrency at once per process) and records every outcome in one
// transaction: a delivery row, its attempt, and for each retryable failure
// a River job of that one delivery (DeliveryArgs), which retries with
// exponential backoff (2^attempt × the base delay, with jitter) until the
// configured number of attempts. A delivery's id is derived from the
// webhook, the audit event and the event name (DeliveryID), so a batch job
// that River runs again after a crash skips what it recorded and sends the
// rest under the same ids. River runs each job on exactly one worker at a
// time, across every server process. Receivers see the same delivery id on
// every attempt and de-duplicate on it: delivery is at least once on the
// wire (a process that dies after sending but before recording the answer
// sends again).
//
// # Safety
//
// URLs are checked when a webhook is saved (scheme, no credentials, no
// host in a refused range, every resolved address allowed) and again at
// connect time, after DNS resolution, by a net.Dialer Control function
// (code.dny.dev/ssrf plus AgentGate's cloud-metadata rules), so DNS
// rebinding cannot reach an internal address. Redirects are never followed.
//
// # Signatures
//
// Each attempt carries X-AgentGate-Signature: sha256=<hex HMAC-SHA256 of
// the raw body keyed with the webhook's secret>. The body's "timestamp" is
// the time of the attempt, so a receiver that rejects stale timestamps also
// rejects replayed bodies. See docs/webhooks.md.
package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
)

// Event names a subscription can ask for.
const (
	EventRequestCreated   = "request.created"
	EventRequestDecided   = "request.decided"
	EventRequestApproved  = "request.approved"
	EventRequestDenied    = "request.denied"
	EventRequestExpired   = "request.expired"
	EventRequestEscalated = "request.escalated" // an escalation step fired
	// EventAll subscribes to every event, including ones added later.
	EventAll = "*"
	// EventTest is sent by POST /api/webhooks/{id}/test only.
	EventTest = "webhook.test"
)

// Events lists the event names a subscription may name (besides "*").
var Events = []string{EventRequestCreated, EventRequestDecided, EventRequestApproved, EventRequestDenied,
	EventRequestExpired, EventRequestEscalated}

// ValidEvent reports whether name may appear in a subscription.
func ValidEvent(name string) bool { return name == EventAll || slices.Contains(Events, name) }

// Delivery statuses.
const (
	StatusPending  = "pending"  // waiting for its first or next attempt
	StatusSuccess  = "success"  // a 2xx answer was received
	StatusFailed   = "failed"   // the last attempt failed and no retry is left, or the failure is permanent
	StatusCanceled = "canceled" // the webhook was disabled or deleted before delivery
)

// Statuses lists every delivery status.
var Statuses = []string{StatusPending, StatusSuccess, StatusFailed, StatusCanceled}

// Webhook is a subscription.
type Webhook struct {
	ID        string
	URL       string
	Events    []string
	Secret    string // as stored: plaintext or sealed (see Cipher)
	Enabled   bool
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt time.Time // zero while the webhook exists
}

// Wants reports whether the webhook subscribes to event.
func (w *Webhook) Wants(event string) bool {
	return slices.Contains(w.Events, EventAll) || slices.Contains(w.Events, event)
}

// Delivery is one event for one webhook, with the state of its attempts.
type Delivery struct {
	ID             string
	WebhookID      string
	Event          string
	RequestID      string
	Data           json.RawMessage // the payload's "data", sent unchanged on every attempt
	Status         string
	Attempts       int
	LastStatusCode int // 0 when no HTTP answer was received
	LastError      string
	NextAttemptAt  time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	CompletedAt    time.Time
}

// Attempt is one HTTP attempt of a delivery.
type Attempt struct {
	ID           int64
	DeliveryID   string
	Attempt      int // 1 for the first
	StatusCode   int // 0 when no HTTP answer was received
	Error        string
	ResponseBody string // at most MaxResponseBody bytes
	Duration     time.Duration
	CreatedAt    time.Time
}

// DeliveryFilter selects deliveries of one webhook, newest first.
type DeliveryFilter struct {
	WebhookID string
	Statuses  []string // empty: all
	Limit     int
	Offset    int
}

// DeliveryResult is the outcome of one attempt, written with the attempt.
type DeliveryResult struct {
	Attempt       *Attempt
	Status        string    // the delivery's new status, applied only while it is pending
	NextAttemptAt time.Time // zero unless a retry follows
}

// Store is the persistence the Service needs; internal/store implements it.
// Reads run outside transactions. Methods return approval.ErrNotFound when
// a row is missing.
type Store interface {
	WithWebhookTx(ctx context.Context, fn func(tx Tx) error) error

	// WebhookList returns the webhooks that are not deleted, oldest first.
	WebhookList(ctx context.Context) ([]*Webhook, error)
	// WebhookGetByID returns webhook id, deleted or not.
	WebhookGetByID(ctx context.Context, id string) (*Webhook, error)
	DeliveryGetByID(ctx context.Context, id string) (*Delivery, error)
	// DeliveryList returns a page of f's deliveries and their total.
	DeliveryList(ctx context.Context, f DeliveryFilter) ([]*Delivery, int64, error)
	// AttemptList returns the attempts of a delivery, oldest first.
	AttemptList(ctx context.Context, deliveryID string) ([]*Attempt, error)
	// DeliveryExisting returns those of ids that are stored deliveries.
	DeliveryExisting(ctx context.Context, ids []string) ([]string, error)

	// AuditListSealedRange returns the sealed audit events with
	// fromSeq <= seq <= toSeq, in seq order.
	AuditListSealedRange(ctx context.Context, fromSeq, toSeq int64) ([]*approval.AuditEvent, error)
	// RequestListByIDs returns the requests with the given ids, in no
	// particular order; ids that match none are left out.
	RequestListByIDs(ctx context.Context, ids []string) ([]*approval.Request, error)
}

// Tx is a write transaction. The store's transaction type implements it
// along with approval.Tx, which is how the TxHook reaches it.
type Tx interface {
	Now() time.Time
	// SQL is the underlying transaction, for River's InsertTx.
	SQL() *sql.Tx

	// WebhookGeneration returns the counter bumped by every webhook write.
	WebhookGeneration(ctx context.Context) (int64, error)
	// WebhookListEnabled returns the enabled, not deleted webhooks.
	WebhookListEnabled(ctx context.Context) ([]*Webhook, error)
	WebhookGetByID(ctx context.Context, id string) (*Webhook, error)
	WebhookInsert(ctx context.Context, w *Webhook) error
	// WebhookUpdate writes w's url, events, secret, enabled, updated_at
	// and deleted_at.
	WebhookUpdate(ctx context.Context, w *Webhook) error
	// WebhookSetSecret replaces the secret of webhook id when it still
	// equals old; it reports whether it did.
	WebhookSetSecret(ctx context.Context, id, old, secret string) (bool, error)

	// DeliveryInsert stores new deliveries as given (status, attempts,
	// last outcome and times included) and returns the ids it inserted; a
	// delivery whose id is already stored is left as it is.
	DeliveryInsert(ctx context.Context, ds []*Delivery) ([]string, error)
	// AttemptInsert stores attempts of deliveries without changing the
	// deliveries.
	AttemptInsert(ctx context.Context, as []*Attempt) error
	DeliveryGetByID(ctx context.Context, id string) (*Delivery, error)
	// DeliveryRecord stores an attempt and applies it to its delivery:
	// attempts+1, last status code and error, and (while the delivery is
	// pending) its new status and next attempt time.
	DeliveryRecord(ctx context.Context, r DeliveryResult) error
	// DeliveryCancelPending marks the webhook's pending deliveries
	// canceled with reason as their last error and returns how many.
	DeliveryCancelPending(ctx context.Context, webhookID, reason string) (int64, error)
	// DeliveryRequeue makes a finished delivery pending again (replay).
	DeliveryRequeue(ctx context.Context, id string) error
}

// Queue enqueues River jobs inside a store transaction; jobs.Runner
// implements it.
type Queue interface {
	InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error
}
