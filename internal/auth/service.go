package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/agentgate/agentgate/internal/approval"
)

// Store is the key storage auth needs; internal/store implements it.
type Store interface {
	KeyGetByHash(ctx context.Context, hash string) (*Key, error)
	KeyList(ctx context.Context) ([]*Key, error)
	KeyTouch(ctx context.Context, id string, at time.Time) error
	// WithKeyTx runs fn in one write transaction.
	WithKeyTx(ctx context.Context, fn func(tx Tx) error) error
}

// Tx is a write transaction over keys and the audit trail.
type Tx interface {
	Now() time.Time
	KeyGetByID(ctx context.Context, id string) (*Key, error)
	KeyList(ctx context.Context) ([]*Key, error)
	KeyInsert(ctx context.Context, k *Key) error
	KeyUpdate(ctx context.Context, k *Key) error
	// KeysChanged tells the other server processes, when the transaction
	// commits, to drop their cached keys.
	KeysChanged(ctx context.Context) error
	// MarkerInsert records a one-time marker; it reports false when the
	// marker already exists.
	MarkerInsert(ctx context.Context, name string) (bool, error)
	AuditInsert(ctx context.Context, e *approval.AuditEvent) error
}

// Config configures the Service.
type Config struct {
	// AdminKey, when set, is accepted as an admin credential (the
	// ADMIN_API_KEY variable). At least 16 characters.
	AdminKey string
	// TouchInterval is how often a key's last-used time is written at most.
	// Defaults to one minute.
	TouchInterval time.Duration
	// DefaultRateLimit is the rate limit (requests per minute) of a new key
	// that names none (AGENTGATE_DEFAULT_RATE_LIMIT). Zero: unlimited.
	DefaultRateLimit int
	// KeyCacheTTL bounds how long a looked-up key is reused without asking
	// the database. Changes made through this process drop the cache at
	// once, and other processes are told through the event bus; the TTL
	// only covers a bus that is down. Defaults to 2s; negative disables.
	KeyCacheTTL time.Duration
}

// AdminEnvKeyID identifies the ADMIN_API_KEY credential in audit records.
const AdminEnvKeyID = "key_admin_env"

// Service authenticates callers and manages keys. Safe for concurrent use.
type Service struct {
	store     Store
	adminHash []byte
	cfg       Config
	log       *slog.Logger
	now       func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time // key id -> last write of last_used_at

	cacheMu sync.Mutex
	cache   map[string]cachedKey // key hash -> key
}

type cachedKey struct {
	key *Key
	at  time.Time
}

// maxCachedKeys bounds the key cache; past it the cache starts over.
const maxCachedKeys = 10_000

// InvalidateKeys drops every cached key; the next use of each key reads
// the database.
func (s *Service) InvalidateKeys() {
	s.cacheMu.Lock()
	s.cache = map[string]cachedKey{}
	s.cacheMu.Unlock()
}

// lookup returns the key with hash, from the cache while fresh.
func (s *Service) lookup(ctx context.Context, hash string) (*Key, error) {
	now := s.now()
	if s.cfg.KeyCacheTTL > 0 {
		s.cacheMu.Lock()
		c, ok := s.cache[hash]
		s.cacheMu.Unlock()
		if ok && now.Sub(c.at) < s.cfg.KeyCacheTTL {
			return c.key, nil
		}
	}
	k, err := s.store.KeyGetByHash(ctx, hash)
	if err != nil || s.cfg.KeyCacheTTL <= 0 {
		return k, err
	}
	s.cacheMu.Lock()
	if len(s.cache) >= maxCachedKeys {
		s.cache = map[string]cachedKey{}
	}
	s.cache[hash] = cachedKey{key: k, at: now}
	s.cacheMu.Unlock()
	return k, nil
}

// NewService returns a Service.
func NewService(store Store, cfg Config, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.TouchInterval <= 0 {
		cfg.TouchInterval = time.Minute
	}
	if cfg.KeyCacheTTL == 0 {
		cfg.KeyCacheTTL = 2 * time.Second
	}
	s := &Service{store: store, cfg: cfg, log: log, now: time.Now, touched: map[string]time.Time{}, cache: map[string]cachedKey{}}
	if cfg.AdminKey != "" {
		if utf8.RuneCountInString(cfg.AdminKey) < 16 {
			return nil, errors.New("ADMIN_API_KEY must be at least 16 characters")
		}
		sum := sha256.Sum256([]byte(cfg.AdminKey))
		s.adminHash = sum[:]
	}
	return s, nil
}

// Errors returned by Authenticate (all CodeUnauthenticated).
var (
	ErrMissingCredentials = approval.Errorf(approval.CodeUnauthenticated, "Missing Authorization header")
	ErrBadFormat          = approval.Errorf(approval.CodeUnauthenticated, "Invalid Authorization format: use 'Authorization: Bearer agk_...'")
	ErrInvalidKey         = approval.Errorf(approval.CodeUnauthenticated, "Invalid API key")
	ErrRevokedKey         = approval.Errorf(approval.CodeUnauthenticated, "API key has been revoked")
)

// Authenticate resolves a bearer token to a principal.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, ErrMissingCredentials
	}
	if s.adminHash != nil {
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(sum[:], s.adminHash) == 1 {
			return &Principal{KeyID: AdminEnvKeyID, Name: "admin (ADMIN_API_KEY)", Scopes: []Scope{ScopeAdmin}, Via: "admin_env"}, nil
		}
	}
	if !LooksLikeKey(token) {
		return nil, ErrInvalidKey
	}
	k, err := s.lookup(ctx, HashKey(token))
	if errors.Is(err, approval.ErrNotFound) {
		return nil, ErrInvalidKey
	}
	if err != nil {
		return nil, fmt.Errorf("auth: look up key: %w", err)
	}
	if !k.Active() {
		return nil, ErrRevokedKey
	}
	s.touch(ctx, k.ID)
	return &Principal{KeyID: k.ID, Name: k.Name, Scopes: k.Scopes, RateLimit: k.RateLimit, Via: "key"}, nil
}

// touch records that key id was used, writing at most once per
// TouchInterval per key and never on the request's path.
func (s *Service) touch(ctx context.Context, id string) {
	now := s.now()
	s.mu.Lock()
	last, ok := s.touched[id]
	if ok && now.Sub(last) < s.cfg.TouchInterval {
		s.mu.Unlock()
		return
	}
	s.touched[id] = now
	s.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.store.KeyTouch(ctx, id, now); err != nil {
			s.log.Warn("could not record key use", "key_id", id, "err", err)
		}
	}()
}

// KeyInput is the input for creating a key.
type KeyInput struct {
	Name   string
	Scopes []Scope
	// RateLimit is in requests per minute; nil takes the configured
	// default unless Unlimited is set.
	RateLimit *int
	// Unlimited asks for no limit even when a default is configured (the
	// API's explicit "rateLimit": null).
	Unlimited bool
}

func validateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return "", approval.Errorf(approval.CodeInvalid, "name is required (1 to 100 characters)")
	}
	return name, nil
}

func validateScopes(scopes []Scope) ([]Scope, error) {
	if len(scopes) == 0 {
		return nil, approval.Errorf(approval.CodeInvalid, "scopes must list at least one of %s", scopeList())
	}
	out := make([]Scope, 0, len(scopes))
	for _, sc := range scopes {
		if !ValidScope(sc) {
			return nil, approval.Errorf(approval.CodeInvalid, "unknown scope %q: valid scopes are %s", sc, scopeList())
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

func scopeList() string {
	s := make([]string, len(Scopes))
	for i, sc := range Scopes {
		s[i] = string(sc)
	}
	return strings.Join(s, ", ")
}

// MaxRateLimit bounds a key's requests per minute.
const MaxRateLimit = 1_000_000

func validateRateLimit(rl *int) error {
	if rl != nil && (*rl < 1 || *rl > MaxRateLimit) {
		return approval.Errorf(approval.CodeInvalid, "rateLimit must be null (unlimited) or between 1 and %d requests per minute", MaxRateLimit)
	}
	return nil
}

// CreateKey stores a new key and returns it with its plaintext, which is
// shown once and never again.
func (s *Service) CreateKey(ctx context.Context, by approval.Actor, in KeyInput) (*Key, string, error) {
	name, err := validateName(in.Name)
	if err != nil {
		return nil, "", err
	}
	scopes, err := validateScopes(in.Scopes)
	if err != nil {
		return nil, "", err
	}
	if err := validateRateLimit(in.RateLimit); err != nil {
		return nil, "", err
	}
	if in.RateLimit == nil && !in.Unlimited && s.cfg.DefaultRateLimit > 0 {
		rl := s.cfg.DefaultRateLimit
		in.RateLimit = &rl
	}
	var k *Key
	plain := GenerateKey()
	err = s.store.WithKeyTx(ctx, func(tx Tx) error {
		k, err = insertKey(ctx, tx, by, name, scopes, in.RateLimit, plain)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return k, plain, nil
}

func insertKey(ctx context.Context, tx Tx, by approval.Actor, name string, scopes []Scope, rl *int, plain string) (*Key, error) {
	k := &Key{
		ID:        approval.NewID("key_"),
		Name:      name,
		Hash:      HashKey(plain),
		Prefix:    DisplayPrefix(plain),
		Scopes:    scopes,
		RateLimit: rl,
		CreatedAt: tx.Now(),
		CreatedBy: by.Name,
	}
	if err := tx.KeyInsert(ctx, k); err != nil {
		return nil, err
	}
	return k, tx.AuditInsert(ctx, keyAudit(approval.EventKeyCreated, by, k, nil))
}

func keyAudit(typ string, by approval.Actor, k *Key, extra map[string]any) *approval.AuditEvent {
	det := map[string]any{"keyId": k.ID, "name": k.Name, "scopes": k.Scopes, "rateLimit": k.RateLimit}
	for n, v := range extra {
		det[n] = v
	}
	b, _ := json.Marshal(det) // plain values: cannot fail
	return &approval.AuditEvent{EventType: typ, Actor: by.Name, ActorID: by.ID, ActorType: by.Type, Details: b}
}

// Keys lists every key, revoked ones included, newest first.
func (s *Service) Keys(ctx context.Context) ([]*Key, error) {
	return s.store.KeyList(ctx)
}

// KeyPatch holds the fields of a partial key update; nil means keep.
// RateLimit: set ClearRateLimit to make the key unlimited.
type KeyPatch struct {
	Name           *string
	Scopes         *[]Scope
	RateLimit      *int
	ClearRateLimit bool
}

// UpdateKey changes key id. Taking admin from the last active admin key is
// refused, so nobody locks themselves out by accident.
func (s *Service) UpdateKey(ctx context.Context, by approval.Actor, id string, p KeyPatch) (*Key, error) {
	if p.Name == nil && p.Scopes == nil && p.RateLimit == nil && !p.ClearRateLimit {
		return nil, approval.Errorf(approval.CodeInvalid, "No fields to update: send name, scopes or rateLimit")
	}
	var out *Key
	err := s.store.WithKeyTx(ctx, func(tx Tx) error {
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if !k.Active() {
			return approval.Errorf(approval.CodeConflict, "API key is revoked and cannot be changed")
		}
		if p.Name != nil {
			if k.Name, err = validateName(*p.Name); err != nil {
				return err
			}
		}
		if p.Scopes != nil {
			scopes, err := validateScopes(*p.Scopes)
			if err != nil {
				return err
			}
			if k.Has(ScopeAdmin) && !slices.Contains(scopes, ScopeAdmin) {
				if err := s.guardLastAdmin(ctx, tx, k.ID); err != nil {
					return err
				}
			}
			k.Scopes = scopes
		}
		if p.ClearRateLimit {
			k.RateLimit = nil
		} else if p.RateLimit != nil {
			if err := validateRateLimit(p.RateLimit); err != nil {
				return err
			}
			k.RateLimit = p.RateLimit
		}
		if err := tx.KeyUpdate(ctx, k); err != nil {
			return err
		}
		if err := tx.KeysChanged(ctx); err != nil {
			return err
		}
		out = k
		return tx.AuditInsert(ctx, keyAudit(approval.EventKeyUpdated, by, k, nil))
	})
	s.InvalidateKeys()
	return out, err
}

// RevokeKey revokes key id at once. Revoking the last active admin key is
// refused unless ADMIN_API_KEY is configured.
func (s *Service) RevokeKey(ctx context.Context, by approval.Actor, id string) error {
	err := s.store.WithKeyTx(ctx, func(tx Tx) error {
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if !k.Active() {
			return nil // revoking twice changes nothing
		}
		if k.Has(ScopeAdmin) {
			if err := s.guardLastAdmin(ctx, tx, k.ID); err != nil {
				return err
			}
		}
		k.RevokedAt = tx.Now()
		if err := tx.KeyUpdate(ctx, k); err != nil {
			return err
		}
		if err := tx.KeysChanged(ctx); err != nil {
			return err
		}
		return tx.AuditInsert(ctx, keyAudit(approval.EventKeyRevoked, by, k, nil))
	})
	// After the commit (or a failure, which changes nothing): drop the
	// cache so that the revoked key's next use reads the database.
	s.InvalidateKeys()
	return err
}

func getKey(ctx context.Context, tx Tx, id string) (*Key, error) {
	k, err := tx.KeyGetByID(ctx, id)
	if errors.Is(err, approval.ErrNotFound) {
		return nil, approval.Wrap(approval.CodeNotFound, err, "API key not found")
	}
	return k, err
}

func (s *Service) guardLastAdmin(ctx context.Context, tx Tx, exceptID string) error {
	if s.adminHash != nil {
		return nil
	}
	keys, err := tx.KeyList(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.ID != exceptID && k.Active() && k.Has(ScopeAdmin) {
			return nil
		}
	}
	return approval.Errorf(approval.CodeConflict, "this is the last active admin key: create another admin key first (or set ADMIN_API_KEY)")
}

// Bootstrap creates an admin key and returns its plaintext.
func (s *Service) Bootstrap(ctx context.Context, name string) (*Key, string, error) {
	return s.CreateKey(ctx, approval.Actor{ID: "system", Name: "bootstrap", Type: approval.ActorSystem, Channel: "cli"},
		KeyInput{Name: name, Scopes: []Scope{ScopeAdmin}, Unlimited: true})
}

// FirstStartMarker names the marker of the first-start admin key.
const FirstStartMarker = "first_admin_key"

// EnsureFirstKey creates one admin key on the first start of an empty
// database and returns its plaintext; on every later start (or when any
// key exists) it returns "". The marker makes this happen once even when
// several replicas start together.
func (s *Service) EnsureFirstKey(ctx context.Context) (string, error) {
	plain := ""
	err := s.store.WithKeyTx(ctx, func(tx Tx) error {
		keys, err := tx.KeyList(ctx)
		if err != nil || len(keys) > 0 {
			return err
		}
		created, err := tx.MarkerInsert(ctx, FirstStartMarker)
		if err != nil || !created {
			return err
		}
		p := GenerateKey()
		by := approval.Actor{ID: "system", Name: "first start", Type: approval.ActorSystem, Channel: "system"}
		if _, err := insertKey(ctx, tx, by, "admin", []Scope{ScopeAdmin}, nil, p); err != nil {
			return err
		}
		plain = p
		return nil
	})
	return plain, err
}
