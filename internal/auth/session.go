package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentgate/agentgate/internal/approval"
)

// Session is a signed-in browser: the dashboard's credential. The browser
// holds an opaque token; only its SHA-256 (ID) is stored.
type Session struct {
	ID             string // hex SHA-256 of the token
	KeyID          string // the API key the person signed in with
	CredentialHash string // hex SHA-256 of that key (see the migration)
	CreatedAt      time.Time
	ExpiresAt      time.Time
	LastSeenAt     time.Time
	UserAgent      string
}

// SessionStore keeps sessions; internal/store implements it.
type SessionStore interface {
	// SessionGet returns session id and the key it belongs to; the key is
	// nil when no api_keys row has the session's key id (the ADMIN_API_KEY
	// credential, or a deleted key). Errors: approval.ErrNotFound.
	SessionGet(ctx context.Context, id string) (*Session, *Key, error)
	// SessionTouch records that session id was used at at.
	SessionTouch(ctx context.Context, id string, at time.Time) error
	// WithSessionTx runs fn in one write transaction.
	WithSessionTx(ctx context.Context, fn func(tx SessionTx) error) error
}

// SessionTx is a write transaction over sessions and the audit trail.
type SessionTx interface {
	Now() time.Time
	SessionInsert(ctx context.Context, s *Session) error
	// SessionDelete removes session id and returns it, or
	// approval.ErrNotFound.
	SessionDelete(ctx context.Context, id string) (*Session, error)
	// SessionDeleteExpired removes the sessions that expired before now.
	SessionDeleteExpired(ctx context.Context, now time.Time) (int64, error)
	AuditInsert(ctx context.Context, e *approval.AuditEvent) error
}

// Audit event types of sessions.
const (
	EventSessionCreated = "session.created"
	EventSessionDeleted = "session.deleted"
)

// SessionConfig configures Sessions.
type SessionConfig struct {
	// TTL is how long a session lasts from sign-in. The expiry is
	// absolute: using the dashboard does not extend it, so a stolen cookie
	// is worth at most TTL and people sign in once a working day.
	// Defaults to 12 hours.
	TTL time.Duration
	// Scope is what a key must grant to sign in and to keep its sessions.
	// Defaults to request:decide (admin implies it).
	Scope Scope
	// TouchInterval is how often last_seen_at is written at most.
	// Defaults to one minute.
	TouchInterval time.Duration
	// Now is the clock that expiry is checked against; it should be the
	// store's clock. Defaults to time.Now.
	Now func() time.Time
}

// Sessions signs people in with an API key and resolves their session
// tokens. Every resolution re-reads the session and its key, so revoking
// the key or taking away its scope ends its sessions on every replica at
// once. Safe for concurrent use.
type Sessions struct {
	store SessionStore
	keys  *Service
	cfg   SessionConfig
	now   func() time.Time
}

// NewSessions returns Sessions on store; keys authenticates the API keys
// people sign in with.
func NewSessions(store SessionStore, keys *Service, cfg SessionConfig) *Sessions {
	if cfg.TTL <= 0 {
		cfg.TTL = 12 * time.Hour
	}
	if cfg.Scope == "" {
		cfg.Scope = ScopeRequestDecide
	}
	if cfg.TouchInterval <= 0 {
		cfg.TouchInterval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sessions{store: store, keys: keys, cfg: cfg, now: cfg.Now}
}

// TTL returns the sessions' lifetime.
func (s *Sessions) TTL() time.Duration { return s.cfg.TTL }

// Errors of sign-in and session resolution (CodeUnauthenticated, or
// CodeForbidden for a key without the scope).
var (
	ErrNoSession      = approval.Errorf(approval.CodeUnauthenticated, "Not signed in")
	ErrSessionExpired = approval.Errorf(approval.CodeUnauthenticated, "Your session has expired: sign in again")
	ErrSessionEnded   = approval.Errorf(approval.CodeUnauthenticated, "Your session has ended (the API key was revoked or changed): sign in again")
)

// MaxUserAgentLength bounds the stored user agent.
const MaxUserAgentLength = 256

// newSessionToken returns 256 random bits as 43 base64url characters.
func newSessionToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken returns the stored id of a session token.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// SignIn checks key and starts a session for it. It returns the token to
// put in the cookie (shown to nobody else and never stored) and the
// principal. The key must be active and grant the configured scope.
//
// Errors: CodeUnauthenticated for an unknown or revoked key; CodeForbidden
// for a key without the scope.
func (s *Sessions) SignIn(ctx context.Context, key, userAgent string) (string, *Session, *Principal, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return "", nil, nil, approval.Errorf(approval.CodeUnauthenticated, "Enter an API key")
	}
	p, err := s.keys.Authenticate(ctx, key)
	if err != nil {
		return "", nil, nil, err
	}
	if !p.Has(s.cfg.Scope) {
		return "", nil, nil, approval.Errorf(approval.CodeForbidden, "This API key lacks the %q scope the dashboard needs", s.cfg.Scope)
	}
	token := newSessionToken()
	sess := &Session{ID: hashToken(token), KeyID: p.KeyID, CredentialHash: HashKey(key), UserAgent: truncate(userAgent, MaxUserAgentLength)}
	err = s.store.WithSessionTx(ctx, func(tx SessionTx) error {
		now := tx.Now()
		sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = now, now, now.Add(s.cfg.TTL)
		// Expired rows are removed here rather than by a timer: sign-ins
		// are rare, and the index on expires_at makes this cheap.
		if _, err := tx.SessionDeleteExpired(ctx, now); err != nil {
			return err
		}
		if err := tx.SessionInsert(ctx, sess); err != nil {
			return err
		}
		return tx.AuditInsert(ctx, sessionAudit(EventSessionCreated, p, sess))
	})
	if err != nil {
		return "", nil, nil, fmt.Errorf("auth: start session: %w", err)
	}
	p.Via = "session"
	return token, sess, p, nil
}

func sessionAudit(typ string, p *Principal, sess *Session) *approval.AuditEvent {
	b, _ := json.Marshal(map[string]any{ // plain values: cannot fail
		"keyId":     sess.KeyID,
		"userAgent": sess.UserAgent,
		"expiresAt": sess.ExpiresAt.UTC().Format(approval.TimeFormat),
		"channel":   "dashboard",
	})
	return &approval.AuditEvent{EventType: typ, Actor: p.Name, ActorID: p.KeyID, ActorType: approval.ActorHuman, Details: b}
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// Resolve returns the principal of session token. It fails when the
// session is unknown or expired, or when its key was revoked, changed or
// lost the scope since sign-in.
func (s *Sessions) Resolve(ctx context.Context, token string) (*Principal, *Session, error) {
	if token == "" {
		return nil, nil, ErrNoSession
	}
	sess, k, err := s.store.SessionGet(ctx, hashToken(token))
	if errors.Is(err, approval.ErrNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("auth: look up session: %w", err)
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) {
		return nil, nil, ErrSessionExpired
	}
	var p *Principal
	switch {
	case k != nil:
		if !k.Active() || k.Hash != sess.CredentialHash {
			return nil, nil, ErrSessionEnded
		}
		p = &Principal{KeyID: k.ID, Name: k.Name, Scopes: k.Scopes, RateLimit: k.RateLimit, Via: "session"}
		s.keys.touch(ctx, k.ID)
	case sess.KeyID == AdminEnvKeyID && s.keys.adminHash != nil && hex.EncodeToString(s.keys.adminHash) == sess.CredentialHash:
		p = &Principal{KeyID: AdminEnvKeyID, Name: "admin (ADMIN_API_KEY)", Scopes: []Scope{ScopeAdmin}, Via: "session"}
	default:
		return nil, nil, ErrSessionEnded
	}
	if !p.Has(s.cfg.Scope) {
		return nil, nil, ErrSessionEnded
	}
	if now.Sub(sess.LastSeenAt) >= s.cfg.TouchInterval {
		s.touchSession(ctx, sess.ID, now)
	}
	return p, sess, nil
}

// touchSession records the session's last use off the request's path.
func (s *Sessions) touchSession(ctx context.Context, id string, at time.Time) {
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.store.SessionTouch(ctx, id, at); err != nil {
			s.keys.log.Warn("could not record session use", "err", err)
		}
	}()
}

// SignOut ends session token. Ending an unknown session is not an error.
func (s *Sessions) SignOut(ctx context.Context, p *Principal, token string) error {
	if token == "" {
		return nil
	}
	err := s.store.WithSessionTx(ctx, func(tx SessionTx) error {
		sess, err := tx.SessionDelete(ctx, hashToken(token))
		if errors.Is(err, approval.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if p == nil {
			p = &Principal{KeyID: sess.KeyID, Name: sess.KeyID}
		}
		return tx.AuditInsert(ctx, sessionAudit(EventSessionDeleted, p, sess))
	})
	if err != nil {
		return fmt.Errorf("auth: end session: %w", err)
	}
	return nil
}
