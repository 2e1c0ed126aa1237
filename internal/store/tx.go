package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is a write transaction. It implements approval.Tx and auth.Tx.
type Tx struct {
	tx  *sql.Tx
	now time.Time
	s   *Store
}

var _ approval.Tx = (*Tx)(nil)

// Now is the transaction's timestamp.
func (t *Tx) Now() time.Time { return t.now }

// SQL returns the underlying transaction, for River's InsertTx.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// Dialect returns SQLite or Postgres.
func (t *Tx) Dialect() string { return t.s.dialect.name() }

// WithTx runs fn in a write transaction and commits when it returns nil.
func (s *Store) WithTx(ctx context.Context, fn func(tx approval.Tx) error) error {
	return s.withTx(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s *Store) withTx(ctx context.Context, fn func(tx *Tx) error) error {
	if s.batch != nil {
		return s.batch.do(ctx, fn)
	}
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	t := &Tx{tx: sqlTx, now: s.nowUTC(), s: s}
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	s.writeGen.Add(1)
	return nil
}

// mapErr turns driver errors into the domain's sentinels.
func (s *Store) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return approval.ErrNotFound
	case s.dialect.isUniqueViolation(err):
		return fmt.Errorf("%w: %w", approval.ErrDuplicate, err)
	}
	return err
}

// nullTime converts the zero time to NULL and everything else to UTC.
func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

func timeOf(n sql.NullTime) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return n.Time.UTC()
}
