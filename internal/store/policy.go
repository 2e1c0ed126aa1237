package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/policy"
)

const policyColumns = `id, name, priority, enabled, scope, agent_ids, tool_ids, rules, source, created_at, updated_at`

func scanPolicy(row scanner) (*approval.StoredPolicy, error) {
	var (
		p                      approval.StoredPolicy
		agentIDs, toolIDs, rul string
	)
	if err := row.Scan(&p.ID, &p.Name, &p.Priority, &p.Enabled, &p.Scope, &agentIDs, &toolIDs, &rul,
		&p.Source, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	for _, f := range []struct {
		src string
		dst any
	}{{agentIDs, &p.AgentIDs}, {toolIDs, &p.ToolIDs}, {rul, &p.Rules}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return nil, fmt.Errorf("store: policy %s: %w", p.ID, err)
		}
	}
	return &p, nil
}

func (s *Store) policyList(ctx context.Context, q querier) ([]approval.StoredPolicy, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+policyColumns+` FROM policies ORDER BY priority, created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list policies: %w", err)
	}
	defer rows.Close()
	out := []approval.StoredPolicy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// PolicyList returns every policy, lowest priority number first.
func (s *Store) PolicyList(ctx context.Context) ([]approval.StoredPolicy, error) {
	return s.policyList(ctx, s.rdb)
}

// PolicyList reads the policies inside the transaction.
func (t *Tx) PolicyList(ctx context.Context) ([]approval.StoredPolicy, error) {
	return t.s.policyList(ctx, t.tx)
}

func (s *Store) policyGetByID(ctx context.Context, q querier, id string) (*approval.StoredPolicy, error) {
	p, err := scanPolicy(q.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM policies WHERE id = $1`, id))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return p, nil
}

// PolicyGetByID returns policy id or approval.ErrNotFound.
func (s *Store) PolicyGetByID(ctx context.Context, id string) (*approval.StoredPolicy, error) {
	return s.policyGetByID(ctx, s.rdb, id)
}

// PolicyGetByID reads policy id inside the transaction.
func (t *Tx) PolicyGetByID(ctx context.Context, id string) (*approval.StoredPolicy, error) {
	return t.s.policyGetByID(ctx, t.tx, id)
}

// PolicyGeneration returns the counter bumped by every policy write.
func (t *Tx) PolicyGeneration(ctx context.Context) (int64, error) {
	var gen int64
	if err := t.tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'policy_generation'`).Scan(&gen); err != nil {
		return 0, fmt.Errorf("store: policy generation: %w", err)
	}
	return gen, nil
}

func (t *Tx) bumpPolicyGeneration(ctx context.Context) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'policy_generation'`); err != nil {
		return fmt.Errorf("store: bump policy generation: %w", err)
	}
	return nil
}

func policyArgs(p *approval.StoredPolicy) ([]any, error) {
	agentIDs, err := json.Marshal(nonNil(p.AgentIDs))
	if err != nil {
		return nil, err
	}
	toolIDs, err := json.Marshal(nonNil(p.ToolIDs))
	if err != nil {
		return nil, err
	}
	rules, err := json.Marshal(nonNilRules(p.Rules))
	if err != nil {
		return nil, fmt.Errorf("store: encode rules: %w", err)
	}
	scope := p.Scope
	if scope == "" {
		scope = "global"
	}
	return []any{p.ID, p.Name, p.Priority, p.Enabled, scope, string(agentIDs), string(toolIDs), string(rules),
		p.Source, p.CreatedAt.UTC(), p.UpdatedAt.UTC()}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilRules(r []policy.Rule) []policy.Rule {
	if r == nil {
		return []policy.Rule{}
	}
	return r
}

// PolicyInsert stores a new policy.
func (t *Tx) PolicyInsert(ctx context.Context, p *approval.StoredPolicy) error {
	args, err := policyArgs(p)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO policies (`+policyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, args...); err != nil {
		return fmt.Errorf("store: insert policy: %w", t.s.mapErr(err))
	}
	return t.bumpPolicyGeneration(ctx)
}

// PolicyUpdate replaces policy p.ID.
func (t *Tx) PolicyUpdate(ctx context.Context, p *approval.StoredPolicy) error {
	args, err := policyArgs(p)
	if err != nil {
		return err
	}
	// Placeholders stay in ascending order of first appearance: the id
	// moves to the end.
	args = append(args[1:], args[0])
	res, err := t.tx.ExecContext(ctx, `UPDATE policies SET name = $1, priority = $2, enabled = $3, scope = $4,
		agent_ids = $5, tool_ids = $6, rules = $7, source = $8, created_at = $9, updated_at = $10 WHERE id = $11`, args...)
	if err != nil {
		return fmt.Errorf("store: update policy: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return approval.ErrNotFound
	}
	return t.bumpPolicyGeneration(ctx)
}

// PolicyDelete removes policy id.
func (t *Tx) PolicyDelete(ctx context.Context, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM policies WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete policy: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return approval.ErrNotFound
	}
	return t.bumpPolicyGeneration(ctx)
}
