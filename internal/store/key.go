package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/events"
)

const keyColumns = `id, name, key_hash, prefix, scopes, rate_limit, created_at, created_by, last_used_at, revoked_at`

func scanKey(row scanner) (*auth.Key, error) {
	var (
		k                   auth.Key
		scopes              string
		rateLimit           sql.NullInt64
		lastUsed, revokedAt sql.NullTime
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &k.Prefix, &scopes, &rateLimit, &k.CreatedAt, &k.CreatedBy,
		&lastUsed, &revokedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return nil, fmt.Errorf("store: key %s scopes: %w", k.ID, err)
	}
	if rateLimit.Valid {
		rl := int(rateLimit.Int64)
		k.RateLimit = &rl
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.LastUsedAt = timeOf(lastUsed)
	k.RevokedAt = timeOf(revokedAt)
	return &k, nil
}

// KeyGetByHash returns the key with the given hash.
func (s *Store) KeyGetByHash(ctx context.Context, hash string) (*auth.Key, error) {
	k, err := scanKey(s.rdb.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE key_hash = $1`, hash))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return k, nil
}

func (s *Store) keyList(ctx context.Context, q querier) ([]*auth.Key, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: list keys: %w", err)
	}
	defer rows.Close()
	out := []*auth.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// KeyList returns every key, newest first.
func (s *Store) KeyList(ctx context.Context) ([]*auth.Key, error) { return s.keyList(ctx, s.rdb) }

// KeyTouch records the last use of key id.
func (s *Store) KeyTouch(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, at.UTC(), id)
	if err != nil {
		return fmt.Errorf("store: touch key: %w", err)
	}
	return nil
}

// WithKeyTx runs fn in a write transaction.
func (s *Store) WithKeyTx(ctx context.Context, fn func(tx auth.Tx) error) error {
	return s.withTx(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ auth.Tx = (*Tx)(nil)

// KeyGetByID reads key id inside the transaction.
func (t *Tx) KeyGetByID(ctx context.Context, id string) (*auth.Key, error) {
	k, err := scanKey(t.tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if err != nil {
		return nil, t.s.mapErr(err)
	}
	return k, nil
}

// KeyList reads every key inside the transaction.
func (t *Tx) KeyList(ctx context.Context) ([]*auth.Key, error) { return t.s.keyList(ctx, t.tx) }

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

// KeyInsert stores a new key.
func (t *Tx) KeyInsert(ctx context.Context, k *auth.Key) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		k.ID, k.Name, k.Hash, k.Prefix, string(scopes), nullInt(k.RateLimit), k.CreatedAt.UTC(), k.CreatedBy,
		nullTime(k.LastUsedAt), nullTime(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("store: insert key: %w", t.s.mapErr(err))
	}
	return nil
}

// KeyUpdate writes k's name, scopes, rate limit and revocation.
func (t *Tx) KeyUpdate(ctx context.Context, k *auth.Key) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, `UPDATE api_keys SET name = $1, scopes = $2, rate_limit = $3, revoked_at = $4 WHERE id = $5`,
		k.Name, string(scopes), nullInt(k.RateLimit), nullTime(k.RevokedAt), k.ID)
	if err != nil {
		return fmt.Errorf("store: update key: %w", err)
	}
	return nil
}

// MarkerInsert records a one-time marker and reports whether it was new.
func (t *Tx) MarkerInsert(ctx context.Context, name string) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO markers (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		name, t.now)
	if err != nil {
		return false, fmt.Errorf("store: insert marker: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// KeysChanged queues, on PostgreSQL, a notification that reaches every
// server process when the transaction commits. A SQLite file has one
// server process, which drops its own cache.
func (t *Tx) KeysChanged(ctx context.Context) error {
	if t.s.dialect.name() != Postgres {
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, events.Channel, events.KeysChangedNotice); err != nil {
		return fmt.Errorf("store: notify key change: %w", err)
	}
	return nil
}
