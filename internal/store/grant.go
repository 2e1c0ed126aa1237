package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
)

const grantColumns = `id, agent_id, action, conditions, expires_at, max_uses, uses, request_id, created_by, created_by_id,
	created_at, revoked_at, revoked_by`

func scanGrant(row scanner, extra ...any) (*approval.Grant, error) {
	var (
		g          approval.Grant
		conditions sql.NullString
		maxUses    sql.NullInt64
		revokedAt  sql.NullTime
		revokedBy  sql.NullString
	)
	dest := []any{&g.ID, &g.AgentID, &g.Action, &conditions, &g.ExpiresAt, &maxUses, &g.Uses, &g.RequestID, &g.CreatedBy,
		&g.CreatedByID, &g.CreatedAt, &revokedAt, &revokedBy}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if conditions.Valid {
		if err := json.Unmarshal([]byte(conditions.String), &g.Conditions); err != nil {
			return nil, fmt.Errorf("store: grant %s conditions: %w", g.ID, err)
		}
	}
	if maxUses.Valid {
		n := int(maxUses.Int64)
		g.MaxUses = &n
	}
	g.ExpiresAt, g.CreatedAt = g.ExpiresAt.UTC(), g.CreatedAt.UTC()
	g.RevokedAt, g.RevokedBy = timeOf(revokedAt), revokedBy.String
	return &g, nil
}

// GrantInsert stores a new grant.
func (t *Tx) GrantInsert(ctx context.Context, g *approval.Grant) error {
	var cond sql.NullString
	if g.Conditions != nil {
		b, err := json.Marshal(g.Conditions)
		if err != nil {
			return fmt.Errorf("store: encode grant conditions: %w", err)
		}
		cond = sql.NullString{String: string(b), Valid: true}
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO grants (`+grantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		g.ID, g.AgentID, g.Action, cond, g.ExpiresAt.UTC(), nullInt(g.MaxUses), g.Uses, g.RequestID, g.CreatedBy, g.CreatedByID,
		g.CreatedAt.UTC(), nullTime(g.RevokedAt), nullString(g.RevokedBy))
	if err != nil {
		return fmt.Errorf("store: insert grant: %w", t.s.mapErr(err))
	}
	return nil
}

// GrantListUsable returns the grants that could approve a request of
// agentID for action at now, oldest first.
func (t *Tx) GrantListUsable(ctx context.Context, agentID, action string, now time.Time) ([]*approval.Grant, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+grantColumns+` FROM grants
		WHERE agent_id = $1 AND action = $2 AND expires_at > $3 AND revoked_at IS NULL
		AND (max_uses IS NULL OR uses < max_uses) ORDER BY created_at, id`, agentID, action, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("store: list usable grants: %w", err)
	}
	return collectGrants(rows, nil)
}

func collectGrants(rows *sql.Rows, total *int64) ([]*approval.Grant, error) {
	defer rows.Close()
	out := []*approval.Grant{}
	for rows.Next() {
		var extra []any
		if total != nil {
			extra = []any{total}
		}
		g, err := scanGrant(rows, extra...)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// GrantUse takes one use of grant id (compare-and-set: it fails once the
// grant is exhausted, expired or revoked, even under concurrent use).
func (t *Tx) GrantUse(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE grants SET uses = uses + 1
		WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 AND (max_uses IS NULL OR uses < max_uses)`, id, now.UTC())
	if err != nil {
		return false, fmt.Errorf("store: use grant: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// GrantGetByID reads grant id.
func (t *Tx) GrantGetByID(ctx context.Context, id string) (*approval.Grant, error) {
	g, err := scanGrant(t.tx.QueryRowContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1`, id))
	if err != nil {
		return nil, t.s.mapErr(err)
	}
	return g, nil
}

// GrantRevoke revokes grant id.
func (t *Tx) GrantRevoke(ctx context.Context, id, by string, now time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE grants SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL`,
		now.UTC(), by, id); err != nil {
		return fmt.Errorf("store: revoke grant: %w", err)
	}
	return nil
}

// GrantList returns grants matching f, newest first, and the total.
func (s *Store) GrantList(ctx context.Context, f approval.GrantFilter, now time.Time) ([]*approval.Grant, int64, error) {
	var w where
	if f.AgentID != "" {
		w.add("agent_id = ?", f.AgentID)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.ActiveOnly {
		w.add("revoked_at IS NULL AND (max_uses IS NULL OR uses < max_uses) AND expires_at > ?", now.UTC())
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+grantColumns+`, COUNT(*) OVER () FROM grants`+w.sql()+
		` ORDER BY created_at DESC, id DESC LIMIT `+w.next(f.Limit)+` OFFSET `+w.next(f.Offset), w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list grants: %w", err)
	}
	var total int64
	out, err := collectGrants(rows, &total)
	return out, total, err
}

const groupColumns = `name, members, source, created_at, updated_at`

func scanGroup(row scanner) (*approval.Group, error) {
	var g approval.Group
	var members string
	if err := row.Scan(&g.Name, &members, &g.Source, &g.CreatedAt, &g.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(members), &g.Members); err != nil {
		return nil, fmt.Errorf("store: group %s: %w", g.Name, err)
	}
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	return &g, nil
}

func (s *Store) groupList(ctx context.Context, q querier) ([]*approval.Group, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+groupColumns+` FROM approver_groups ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list groups: %w", err)
	}
	defer rows.Close()
	out := []*approval.Group{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// GroupList returns every approver group.
func (s *Store) GroupList(ctx context.Context) ([]*approval.Group, error) {
	return s.groupList(ctx, s.rdb)
}

// GroupList reads the groups inside the transaction.
func (t *Tx) GroupList(ctx context.Context) ([]*approval.Group, error) {
	return t.s.groupList(ctx, t.tx)
}

// GroupUpsert creates or replaces a group.
func (t *Tx) GroupUpsert(ctx context.Context, g *approval.Group) error {
	members, err := json.Marshal(g.Members)
	if err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO approver_groups (`+groupColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) DO UPDATE SET members = excluded.members, source = excluded.source, updated_at = excluded.updated_at`,
		g.Name, string(members), g.Source, g.CreatedAt.UTC(), g.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("store: save group: %w", err)
	}
	return nil
}

// GroupDelete removes group name.
func (t *Tx) GroupDelete(ctx context.Context, name string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM approver_groups WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("store: delete group: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return approval.ErrNotFound
	}
	return nil
}
