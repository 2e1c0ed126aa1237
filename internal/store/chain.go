package store

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/internal/approval"
)

// AuditChainHead reads (and on PostgreSQL locks, so one sealer runs at a
// time) the head of the audit hash chain.
func (t *Tx) AuditChainHead(ctx context.Context) (int64, string, error) {
	lock := ""
	if t.s.dialect.name() == Postgres {
		lock = " FOR UPDATE"
	}
	var seq int64
	var hash string
	if err := t.tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_chain WHERE id = 1`+lock).Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("store: audit chain head: %w", err)
	}
	return seq, hash, nil
}

// AuditChainAdvance moves the chain head.
func (t *Tx) AuditChainAdvance(ctx context.Context, seq int64, hash string) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE audit_chain SET seq = $1, hash = $2 WHERE id = 1`, seq, hash); err != nil {
		return fmt.Errorf("store: advance audit chain: %w", err)
	}
	return nil
}

// AuditListUnsealed returns events not yet in the chain, oldest first.
func (t *Tx) AuditListUnsealed(ctx context.Context, limit int) ([]*approval.AuditEvent, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events a WHERE a.seq IS NULL ORDER BY a.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list unsealed audit events: %w", err)
	}
	defer rows.Close()
	var out []*approval.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditSeal records an event's place in the chain.
func (t *Tx) AuditSeal(ctx context.Context, e *approval.AuditEvent) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE audit_events SET seq = $1, prev_hash = $2, hash = $3 WHERE id = $4 AND seq IS NULL`,
		e.Seq, e.PrevHash, e.Hash, e.ID)
	if err != nil {
		return fmt.Errorf("store: seal audit event: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: seal audit event %d: already sealed", e.ID)
	}
	return nil
}

// AuditChainHeadRead reads the chain head without locking.
func (s *Store) AuditChainHeadRead(ctx context.Context) (int64, string, error) {
	var seq int64
	var hash string
	if err := s.rdb.QueryRowContext(ctx, `SELECT seq, hash FROM audit_chain WHERE id = 1`).Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("store: audit chain head: %w", err)
	}
	return seq, hash, nil
}

// AuditListSealed returns sealed events with seq > afterSeq in seq order.
func (s *Store) AuditListSealed(ctx context.Context, afterSeq int64, limit int) ([]*approval.AuditEvent, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events a WHERE a.seq > $1 ORDER BY a.seq LIMIT $2`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list sealed audit events: %w", err)
	}
	defer rows.Close()
	var out []*approval.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditListSealedRange returns the sealed events with fromSeq <= seq <=
// toSeq, in seq order.
func (s *Store) AuditListSealedRange(ctx context.Context, fromSeq, toSeq int64) ([]*approval.AuditEvent, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events a WHERE a.seq >= $1 AND a.seq <= $2 ORDER BY a.seq`, fromSeq, toSeq)
	if err != nil {
		return nil, fmt.Errorf("store: list sealed audit events: %w", err)
	}
	defer rows.Close()
	var out []*approval.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list sealed audit events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditCountUnsealed counts events waiting for the sealer.
func (s *Store) AuditCountUnsealed(ctx context.Context) (int64, error) {
	var n int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE seq IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count unsealed audit events: %w", err)
	}
	return n, nil
}
