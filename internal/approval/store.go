package approval

import (
	"context"
	"time"
)

// Store is the persistence the approval service needs. internal/store
// implements it on SQLite and PostgreSQL.
//
// Read methods run outside transactions (on SQLite, on the reader pool);
// every change goes through WithTx.
type Store interface {
	// WithTx runs fn in one write transaction and commits when fn returns
	// nil. The transaction's clock is read once (Tx.Now).
	WithTx(ctx context.Context, fn func(tx Tx) error) error

	RequestGetByID(ctx context.Context, id string) (*Request, error)
	RequestList(ctx context.Context, f RequestFilter) ([]*Request, int64, error)
	RequestCountByStatus(ctx context.Context, s Status) (int64, error)
	// RequestDueExists reports whether a pending request's expiry has
	// passed (by the store's clock), without a write transaction.
	RequestDueExists(ctx context.Context) (bool, error)
	AuditListByRequest(ctx context.Context, requestID string) ([]*AuditEvent, error)
	AuditList(ctx context.Context, f AuditFilter) ([]*AuditEvent, int64, error)
	// AuditListSince returns request state events (created, approved,
	// denied, expired) after event afterID, oldest first; on PostgreSQL
	// it also returns events of the ReplayLookback before afterID.
	AuditListSince(ctx context.Context, afterID int64, limit int) ([]*AuditEvent, error)
	PolicyList(ctx context.Context) ([]StoredPolicy, error)
	PolicyGetByID(ctx context.Context, id string) (*StoredPolicy, error)
	Ping(ctx context.Context) error

	DecisionListByRequest(ctx context.Context, requestID string) ([]*Decision, error)
	GrantList(ctx context.Context, f GrantFilter, now time.Time) ([]*Grant, int64, error)
	GroupList(ctx context.Context) ([]*Group, error)

	AuditChainHeadRead(ctx context.Context) (seq int64, hash string, err error)
	// AuditListSealed returns sealed events with seq > afterSeq, in seq order.
	AuditListSealed(ctx context.Context, afterSeq int64, limit int) ([]*AuditEvent, error)
	AuditCountUnsealed(ctx context.Context) (int64, error)
}

// Tx is a write transaction. Methods return ErrNotFound when a row is
// missing and ErrDuplicate when a unique constraint refuses a write.
type Tx interface {
	// Now is the transaction's timestamp, taken once, in UTC.
	Now() time.Time

	RequestGetByID(ctx context.Context, id string) (*Request, error)
	// RequestLock reads request id and holds it against concurrent
	// changes until the transaction ends.
	RequestLock(ctx context.Context, id string) (*Request, error)
	// RequestAddVote counts one more approving vote on a pending request
	// and returns the count (ErrAlreadyDecided when it is not pending).
	RequestAddVote(ctx context.Context, id string, now time.Time) (int, error)
	// RequestEscalate moves a pending request's escalation level from
	// from to from+1 and reports whether it did (compare-and-set).
	RequestEscalate(ctx context.Context, id string, from int, now time.Time) (bool, error)
	RequestGetByIdempotencyKey(ctx context.Context, agentID, key string) (*Request, error)
	RequestInsert(ctx context.Context, r *Request) error
	// RequestDecide moves a pending request to r.Status with r's decision
	// fields. It returns ErrAlreadyDecided when the request is no longer
	// pending (compare-and-set).
	RequestDecide(ctx context.Context, r *Request) error
	// RequestListDue returns up to limit pending requests whose expiry is
	// at or before now, oldest expiry first.
	RequestListDue(ctx context.Context, now time.Time, limit int) ([]*Request, error)

	DecisionInsert(ctx context.Context, d *Decision) error
	DecisionListByRequest(ctx context.Context, requestID string) ([]*Decision, error)
	AuditInsert(ctx context.Context, e *AuditEvent) error
	// AuditChainHead reads the chain head, locking it for this
	// transaction where the engine allows several writers.
	AuditChainHead(ctx context.Context) (seq int64, hash string, err error)
	AuditChainAdvance(ctx context.Context, seq int64, hash string) error
	AuditListUnsealed(ctx context.Context, limit int) ([]*AuditEvent, error)
	AuditSeal(ctx context.Context, e *AuditEvent) error

	GrantInsert(ctx context.Context, g *Grant) error
	// GrantListUsable returns the grants that could approve a request of
	// agentID for action at now.
	GrantListUsable(ctx context.Context, agentID, action string, now time.Time) ([]*Grant, error)
	// GrantUse takes one use (compare-and-set; false when exhausted,
	// expired or revoked).
	GrantUse(ctx context.Context, id string, now time.Time) (bool, error)
	GrantGetByID(ctx context.Context, id string) (*Grant, error)
	GrantRevoke(ctx context.Context, id, by string, now time.Time) error

	GroupList(ctx context.Context) ([]*Group, error)
	GroupUpsert(ctx context.Context, g *Group) error
	GroupDelete(ctx context.Context, name string) error

	PolicyGeneration(ctx context.Context) (int64, error)
	PolicyList(ctx context.Context) ([]StoredPolicy, error)
	PolicyGetByID(ctx context.Context, id string) (*StoredPolicy, error)
	PolicyInsert(ctx context.Context, p *StoredPolicy) error
	PolicyUpdate(ctx context.Context, p *StoredPolicy) error
	PolicyDelete(ctx context.Context, id string) error
}

// SealHook is called inside the sealing transaction with the audit events
// that transaction adds to the hash chain, in chain order. Sealing happens
// once per event, in commit order, shortly after each change commits, so a
// SealHook is a transactional outbox: work derived from events (webhook
// deliveries, notifications) is created exactly once per event, off the
// request path, and never for a change that rolled back.
type SealHook interface {
	OnSealed(ctx context.Context, tx Tx, events []*AuditEvent) error
}

// Publisher delivers events to in-process and cross-process subscribers
// (waiters, SSE streams, the dashboard). It is called after commit.
type Publisher interface {
	Publish(ctx context.Context, events ...Event)
}

// TxHook is called inside the transaction of every state change with the
// events it will publish, so that work caused by an event (webhook
// deliveries, notifications) is enqueued atomically with it.
type TxHook interface {
	OnEvents(ctx context.Context, tx Tx, events []Event) error
}

// Event types published after a state change.
const (
	EventRequestCreated   = "request.created"
	EventRequestDecided   = "request.decided"
	EventRequestExpired   = "request.expired"
	EventRequestVoted     = "request.voted"     // a quorum vote that did not yet decide
	EventRequestEscalated = "request.escalated" // an escalation step fired
)

// Event tells subscribers that a request changed.
type Event struct {
	ID      int64 // the id of the audit event that records the change
	Type    string
	Request *Request // the request after the change
	Actor   Actor    // who caused it
}

// Watcher wakes waiters when a request changes.
type Watcher interface {
	// WatchRequest returns a channel that receives a value after request
	// id changes, and a function that stops watching.
	WatchRequest(id string) (wake <-chan struct{}, stop func())
}
