package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
)

const sessionColumns = `s.id, s.key_id, s.credential_hash, s.created_at, s.expires_at, s.last_seen_at, s.user_agent`

func scanSession(row scanner, extra ...any) (*auth.Session, error) {
	var s auth.Session
	dest := []any{&s.ID, &s.KeyID, &s.CredentialHash, &s.CreatedAt, &s.ExpiresAt, &s.LastSeenAt, &s.UserAgent}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt, s.LastSeenAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC(), s.LastSeenAt.UTC()
	return &s, nil
}

var _ auth.SessionStore = (*Store)(nil)

// SessionGet returns session id with its key (nil when the key has no
// row), in one query: every dashboard request makes it.
func (s *Store) SessionGet(ctx context.Context, id string) (*auth.Session, *auth.Key, error) {
	var (
		keyID, name, hash, scopes sql.NullString
		rateLimit                 sql.NullInt64
		revokedAt                 sql.NullTime
	)
	sess, err := scanSession(s.rdb.QueryRowContext(ctx, `SELECT `+sessionColumns+`,
		k.id, k.name, k.key_hash, k.scopes, k.rate_limit, k.revoked_at
		FROM sessions s LEFT JOIN api_keys k ON k.id = s.key_id WHERE s.id = $1`, id),
		&keyID, &name, &hash, &scopes, &rateLimit, &revokedAt)
	if err != nil {
		return nil, nil, s.mapErr(err)
	}
	if !keyID.Valid {
		return sess, nil, nil
	}
	k := &auth.Key{ID: keyID.String, Name: name.String, Hash: hash.String, RevokedAt: timeOf(revokedAt)}
	if err := json.Unmarshal([]byte(scopes.String), &k.Scopes); err != nil {
		return nil, nil, fmt.Errorf("store: key %s scopes: %w", k.ID, err)
	}
	if rateLimit.Valid {
		rl := int(rateLimit.Int64)
		k.RateLimit = &rl
	}
	return sess, k, nil
}

// SessionTouch records the last use of session id.
func (s *Store) SessionTouch(ctx context.Context, id string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, at.UTC(), id); err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// WithSessionTx runs fn in a write transaction.
func (s *Store) WithSessionTx(ctx context.Context, fn func(tx auth.SessionTx) error) error {
	return s.withTx(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ auth.SessionTx = (*Tx)(nil)

// SessionInsert stores a new session.
func (t *Tx) SessionInsert(ctx context.Context, s *auth.Session) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO sessions
		(id, key_id, credential_hash, created_at, expires_at, last_seen_at, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.ID, s.KeyID, s.CredentialHash, s.CreatedAt.UTC(), s.ExpiresAt.UTC(), s.LastSeenAt.UTC(), s.UserAgent)
	if err != nil {
		return fmt.Errorf("store: insert session: %w", t.s.mapErr(err))
	}
	return nil
}

// SessionDelete removes session id and returns it.
func (t *Tx) SessionDelete(ctx context.Context, id string) (*auth.Session, error) {
	sess, err := scanSession(t.tx.QueryRowContext(ctx, `DELETE FROM sessions WHERE id = $1
		RETURNING id, key_id, credential_hash, created_at, expires_at, last_seen_at, user_agent`, id))
	if err != nil {
		return nil, t.s.mapErr(err)
	}
	return sess, nil
}

// SessionDeleteExpired removes the sessions that expired before now.
func (t *Tx) SessionDeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < $1`, now.UTC())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}
