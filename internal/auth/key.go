// Package auth holds API keys, their scopes and the principal a request
// acts as.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
)

// Scope grants a family of operations to a key.
type Scope string

// Scopes. Admin implies every other scope; policies and keys need admin.
const (
	ScopeAdmin         Scope = "admin"
	ScopeRequestCreate Scope = "request:create"
	ScopeRequestRead   Scope = "request:read"
	ScopeRequestDecide Scope = "request:decide"
	ScopeWebhookManage Scope = "webhook:manage"
)

// Scopes lists every scope, for validation and documentation.
var Scopes = []Scope{ScopeAdmin, ScopeRequestCreate, ScopeRequestRead, ScopeRequestDecide, ScopeWebhookManage}

// ValidScope reports whether s is a known scope.
func ValidScope(s Scope) bool { return slices.Contains(Scopes, s) }

// KeyPrefix starts every API key.
const KeyPrefix = "agk_"

// Key is a stored API key. The plaintext is never stored: only its SHA-256.
type Key struct {
	ID         string
	Name       string
	Hash       string // hex SHA-256 of the full key
	Prefix     string // the first characters, to recognise a key in lists
	Scopes     []Scope
	RateLimit  *int // requests per minute; nil means unlimited
	CreatedAt  time.Time
	CreatedBy  string
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Active reports whether k is not revoked.
func (k *Key) Active() bool { return k.RevokedAt.IsZero() }

// Has reports whether k grants s.
func (k *Key) Has(s Scope) bool { return hasScope(k.Scopes, s) }

func hasScope(scopes []Scope, s Scope) bool {
	return slices.Contains(scopes, ScopeAdmin) || slices.Contains(scopes, s)
}

// GenerateKey returns a new key: "agk_" and 43 base64url characters
// (256 random bits).
func GenerateKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashKey returns the hex SHA-256 of key, as stored.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// LooksLikeKey reports whether s has the shape of an API key.
func LooksLikeKey(s string) bool {
	if !strings.HasPrefix(s, KeyPrefix) || len(s) != len(KeyPrefix)+43 {
		return false
	}
	for _, c := range s[len(KeyPrefix):] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// DisplayPrefix is the part of a key shown in listings.
func DisplayPrefix(key string) string {
	if len(key) < 12 {
		return key
	}
	return key[:12]
}

// Principal is who a request acts as.
type Principal struct {
	KeyID     string
	Name      string
	Scopes    []Scope
	RateLimit *int
	// Via says how the principal authenticated: "key", "admin_env" or
	// "session".
	Via string
}

// Has reports whether p is granted s.
func (p *Principal) Has(s Scope) bool { return hasScope(p.Scopes, s) }

// Actor returns p as an approval actor on channel.
func (p *Principal) Actor(channel string, typ approval.ActorType) approval.Actor {
	return approval.Actor{ID: p.KeyID, Name: p.Name, Type: typ, Channel: channel}
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal in ctx, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
