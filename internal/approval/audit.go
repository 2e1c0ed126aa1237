package approval

import (
	"encoding/json"
	"time"
)

// Audit event types. Request events keep the upstream's names so its
// clients' filters keep working; other events are namespaced.
const (
	EventCreated   = "created"
	EventApproved  = "approved"
	EventDenied    = "denied"
	EventExpired   = "expired"
	EventVoted     = "voted"
	EventEscalated = "escalated"
	EventEdited    = "edited"

	EventGrantCreated = "grant.created"
	EventGrantUsed    = "grant.used"
	EventGrantRevoked = "grant.revoked"
	EventGroupSaved   = "group.saved"
	EventGroupDeleted = "group.deleted"

	// Channel notifications (Slack, Discord, email) about a request: they
	// show in its timeline and raise no webhooks or notifications.
	EventNotificationSent   = "notification.sent"
	EventNotificationFailed = "notification.failed"

	EventKeyCreated    = "key.created"
	EventKeyUpdated    = "key.updated"
	EventKeyRevoked    = "key.revoked"
	EventPolicyCreated = "policy.created"
	EventPolicyUpdated = "policy.updated"
	EventPolicyDeleted = "policy.deleted"
)

// AuditEvent is one append-only entry of the audit trail. Events are
// written in the same transaction as the change they record.
//
// Seq, PrevHash and Hash form a hash chain over all events; they are
// assigned by the chain sealer after commit, in commit order, so writers
// never serialise on the chain head.
type AuditEvent struct {
	ID        int64
	RequestID string // empty for events not about a request
	EventType string
	Actor     string // display name
	ActorID   string
	ActorType ActorType
	Details   json.RawMessage // a JSON object
	CreatedAt time.Time

	Seq      int64
	PrevHash string
	Hash     string

	// Request is a summary of the request the event is about, filled by
	// listings that join it.
	Request *RequestSummary
}

// RequestSummary is the part of a request shown next to audit entries.
type RequestSummary struct {
	ID      string
	Action  string
	Status  Status
	Urgency Urgency
}

// AuditFilter selects audit events to list.
type AuditFilter struct {
	RequestID string
	EventType string
	Actor     string
	Action    string // of the request
	Status    Status // of the request
	From, To  time.Time
	Limit     int
	Offset    int
}

// Validate checks f and fills defaults.
func (f *AuditFilter) Validate() error {
	if f.Status != "" && !f.Status.Valid() {
		return Errorf(CodeInvalid, "status must be one of pending, approved, denied, expired")
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return Errorf(CodeInvalid, "to must not be before from")
	}
	return validatePage(&f.Limit, &f.Offset)
}

// details marshals a details object; it cannot fail for the map and struct
// types used in this package, so a failure is a programming error that
// yields an empty object rather than losing the event.
func details(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}
