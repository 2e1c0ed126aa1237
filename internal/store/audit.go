package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/agentgate/agentgate/internal/approval"
)

const auditColumns = `a.id, a.request_id, a.event_type, a.actor, a.actor_id, a.actor_type, a.details, a.created_at,
	a.seq, a.prev_hash, a.hash`

func scanAudit(row scanner, extra ...any) (*approval.AuditEvent, error) {
	var (
		e               approval.AuditEvent
		requestID       sql.NullString
		details         string
		seq             sql.NullInt64
		prevHash, hashv sql.NullString
	)
	dest := []any{&e.ID, &requestID, &e.EventType, &e.Actor, &e.ActorID, &e.ActorType, &details, &e.CreatedAt,
		&seq, &prevHash, &hashv}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	e.RequestID = requestID.String
	e.Details = json.RawMessage(details)
	e.CreatedAt = e.CreatedAt.UTC()
	e.Seq = seq.Int64
	e.PrevHash = prevHash.String
	e.Hash = hashv.String
	return &e, nil
}

// AuditInsert appends an audit event and sets its id.
func (t *Tx) AuditInsert(ctx context.Context, e *approval.AuditEvent) error {
	det := e.Details
	if len(det) == 0 {
		det = json.RawMessage(`{}`)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = t.now
	}
	err := t.tx.QueryRowContext(ctx, `INSERT INTO audit_events
		(request_id, event_type, actor, actor_id, actor_type, details, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		nullString(e.RequestID), e.EventType, e.Actor, e.ActorID, e.ActorType, string(det), e.CreatedAt.UTC()).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("store: insert audit event: %w", err)
	}
	return nil
}

// AuditListByRequest returns a request's events, oldest first.
func (s *Store) AuditListByRequest(ctx context.Context, requestID string) ([]*approval.AuditEvent, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events a
		WHERE a.request_id = $1 ORDER BY a.id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("store: list audit events: %w", err)
	}
	defer rows.Close()
	out := []*approval.AuditEvent{}
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list audit events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditList returns a page of events matching f, newest first, with a
// summary of each event's request, and the total.
func (s *Store) AuditList(ctx context.Context, f approval.AuditFilter) ([]*approval.AuditEvent, int64, error) {
	var w where
	if f.RequestID != "" {
		w.add("a.request_id = ?", f.RequestID)
	}
	if f.EventType != "" {
		w.add("a.event_type = ?", f.EventType)
	}
	if f.Actor != "" {
		w.add("a.actor = ?", f.Actor)
	}
	if f.Action != "" {
		w.add("r.action = ?", f.Action)
	}
	if f.Status != "" {
		w.addStatus("r.status", f.Status)
	}
	if !f.From.IsZero() {
		w.add("a.created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		w.add("a.created_at <= ?", f.To.UTC())
	}
	from := ` FROM audit_events a LEFT JOIN requests r ON r.id = a.request_id`
	q := `SELECT ` + auditColumns + `, r.id, r.action, r.status, r.urgency, COUNT(*) OVER ()` + from + w.sql() +
		` ORDER BY a.id DESC LIMIT ` + w.next(f.Limit) + ` OFFSET ` + w.next(f.Offset)
	rows, err := s.rdb.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list audit events: %w", err)
	}
	defer rows.Close()
	var (
		out   []*approval.AuditEvent
		total int64
	)
	for rows.Next() {
		var rid, action, status, urgency sql.NullString
		e, err := scanAudit(rows, &rid, &action, &status, &urgency, &total)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list audit events: %w", err)
		}
		if rid.Valid {
			e.Request = &approval.RequestSummary{ID: rid.String, Action: action.String,
				Status: approval.Status(status.String), Urgency: approval.Urgency(urgency.String)}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: list audit events: %w", err)
	}
	if len(out) == 0 && f.Offset > 0 {
		w.args = w.args[:len(w.args)-2]
		if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*)`+from+w.sql(), w.args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("store: count audit events: %w", err)
		}
	}
	return out, total, nil
}

// AuditListSince returns request state events after afterID, oldest first.
// On PostgreSQL identity values are taken at insert, so a transaction that
// inserted earlier can commit later: the query also covers the
// ReplayLookback before afterID's event, and may repeat a few events.
func (s *Store) AuditListSince(ctx context.Context, afterID int64, limit int) ([]*approval.AuditEvent, error) {
	cond := `a.id > $1`
	args := []any{afterID}
	if s.dialect.name() == Postgres {
		cond = `(a.id > $1 OR a.created_at >= (SELECT created_at FROM audit_events WHERE id = $2) - $3 * INTERVAL '1 millisecond')`
		args = append(args, afterID, approval.ReplayLookback.Milliseconds())
	}
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events a
		WHERE `+cond+` AND a.event_type IN ('created', 'approved', 'denied', 'expired')
		ORDER BY a.id LIMIT $`+fmt.Sprint(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit events since: %w", err)
	}
	defer rows.Close()
	var out []*approval.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		if e.ID != afterID {
			out = append(out, e)
		}
	}
	return out, rows.Err()
}
