package approval

import (
	"time"
)

// Group is a named set of approver identities, referenced in rules as
// "group:NAME".
type Group struct {
	Name      string
	Members   []string
	Source    string // "api" or "file"
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Grant is a time-boxed auto-approval: "approve, and allow the same for
// the next hour". It applies to requests of the same agent and action
// (optionally only when Conditions match the params), until it expires,
// is used MaxUses times, or is revoked.
type Grant struct {
	ID          string
	AgentID     string
	Action      string
	Conditions  map[string]any // a policy match object over the request; nil: any
	ExpiresAt   time.Time
	MaxUses     *int
	Uses        int
	RequestID   string // the decision that created it
	CreatedBy   string
	CreatedByID string
	CreatedAt   time.Time
	RevokedAt   time.Time
	RevokedBy   string
}

// Active reports whether g can still be used at now.
func (g *Grant) Active(now time.Time) bool {
	return g.RevokedAt.IsZero() && now.Before(g.ExpiresAt) && (g.MaxUses == nil || g.Uses < *g.MaxUses)
}

// GrantInput asks a decision to create a grant.
type GrantInput struct {
	Duration   time.Duration
	MaxUses    *int
	Conditions map[string]any
}

// Limits on grants.
const (
	MaxGrantDuration = 30 * 24 * time.Hour
	MaxGrantUses     = 100_000
)

// GrantFilter selects grants to list.
type GrantFilter struct {
	AgentID    string
	Action     string
	ActiveOnly bool
	Limit      int
	Offset     int
}
