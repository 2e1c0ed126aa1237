package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
)

const requestColumns = `id, action, params, context, urgency, status, created_at, updated_at,
	decided_at, decided_by, decided_by_id, decided_by_type, decided_by_label, decision_reason,
	expires_at, policy_decision, agent_id, agent_name, idempotency_key, request_hash,
	approved_params, approval_votes, escalation_level, grant_id`

type scanner interface{ Scan(dest ...any) error }

func scanRequest(row scanner) (*approval.Request, error) {
	return newRequestScan().scan(row, nil)
}

// pdMemo remembers the last policy decision decoded while reading a list:
// the rows of a page mostly share one, and decoding it dominated reading
// them. Only decisions without slices are kept, so no two requests share
// memory.
type pdMemo struct {
	raw string
	pd  approval.PolicyDecision
}

func (m *pdMemo) decode(raw string, into *approval.PolicyDecision) error {
	if m != nil && m.raw != "" && m.raw == raw {
		*into = m.pd
		if m.pd.RuleIndex != nil {
			v := *m.pd.RuleIndex
			into.RuleIndex = &v
		}
		return nil
	}
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		return err
	}
	if m != nil && into.Scalar() {
		m.raw, m.pd = raw, *into
		if into.RuleIndex != nil {
			v := *into.RuleIndex
			m.pd.RuleIndex = &v
		}
	}
	return nil
}

// requestScan holds the scan targets of a request row. A list reuses one
// for all its rows: built per row, the targets and the slice pointing at
// them were a third of the bytes a list page allocated.
type requestScan struct {
	r                                      approval.Request
	params, rctx, pd                       string
	decidedAt, expiresAt                   time.Time
	decidedBy, decidedByID, decidedByType  sql.NullString
	decidedByLabel, reason, idemKey, rhash sql.NullString
	approvedParams, grantID                sql.NullString
	dest                                   []any
}

func newRequestScan() *requestScan {
	c := &requestScan{}
	c.dest = []any{&c.r.ID, &c.r.Action, &c.params, &c.rctx, &c.r.Urgency, &c.r.Status, dbTime{&c.r.CreatedAt}, dbTime{&c.r.UpdatedAt},
		dbTime{&c.decidedAt}, &c.decidedBy, &c.decidedByID, &c.decidedByType, &c.decidedByLabel, &c.reason,
		dbTime{&c.expiresAt}, &c.pd, &c.r.AgentID, &c.r.AgentName, &c.idemKey, &c.rhash,
		&c.approvedParams, &c.r.ApprovalVotes, &c.r.EscalationLevel, &c.grantID}
	return c
}

// scan reads one row into a new request. Every target is written by each
// Scan, so nothing of the previous row survives.
func (c *requestScan) scan(row scanner, memo *pdMemo) (*approval.Request, error) {
	if err := row.Scan(c.dest...); err != nil {
		return nil, err
	}
	r := new(approval.Request)
	*r = c.r
	r.Params = json.RawMessage(c.params)
	r.Context = json.RawMessage(c.rctx)
	r.DecidedAt = c.decidedAt
	r.ExpiresAt = c.expiresAt
	r.DecidedBy = c.decidedBy.String
	r.DecidedByID = c.decidedByID.String
	r.DecidedByType = approval.ActorType(c.decidedByType.String)
	r.DecidedByLabel = c.decidedByLabel.String
	r.DecisionReason = c.reason.String
	r.IdempotencyKey = c.idemKey.String
	r.RequestHash = c.rhash.String
	if c.approvedParams.Valid {
		r.ApprovedParams = json.RawMessage(c.approvedParams.String)
	}
	r.GrantID = c.grantID.String
	if err := memo.decode(c.pd, &r.PolicyDecision); err != nil {
		return nil, fmt.Errorf("store: request %s: policy decision: %w", r.ID, err)
	}
	return r, nil
}

func (s *Store) requestGetByID(ctx context.Context, q querier, id string) (*approval.Request, error) {
	r, err := scanRequest(q.QueryRowContext(ctx, `SELECT `+s.requestSelect+` FROM requests WHERE id = $1`, id))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return r, nil
}

// RequestGetByID returns request id or approval.ErrNotFound.
func (s *Store) RequestGetByID(ctx context.Context, id string) (*approval.Request, error) {
	return s.requestGetByID(ctx, s.rdb, id)
}

// RequestListByIDs returns the requests with the given ids, in no
// particular order; ids that match none are left out.
func (s *Store) RequestListByIDs(ctx context.Context, ids []string) ([]*approval.Request, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+s.requestSelect+` FROM requests WHERE `+s.jsonIDs("id"), string(list))
	if err != nil {
		return nil, fmt.Errorf("store: list requests by id: %w", err)
	}
	defer rows.Close()
	var out []*approval.Request
	sc := newRequestScan()
	for rows.Next() {
		r, err := sc.scan(rows, nil)
		if err != nil {
			return nil, fmt.Errorf("store: list requests by id: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RequestGetByID reads request id inside the transaction.
func (t *Tx) RequestGetByID(ctx context.Context, id string) (*approval.Request, error) {
	return t.s.requestGetByID(ctx, t.tx, id)
}

// RequestGetByIdempotencyKey finds the request agentID created with key.
func (t *Tx) RequestGetByIdempotencyKey(ctx context.Context, agentID, key string) (*approval.Request, error) {
	r, err := scanRequest(t.tx.QueryRowContext(ctx,
		`SELECT `+t.s.requestSelect+` FROM requests WHERE agent_id = $1 AND idempotency_key = $2`, agentID, key))
	if err != nil {
		return nil, t.s.mapErr(err)
	}
	return r, nil
}

// RequestInsert stores a new request.
func (t *Tx) RequestInsert(ctx context.Context, r *approval.Request) error {
	pd, err := json.Marshal(r.PolicyDecision)
	if err != nil {
		return fmt.Errorf("store: encode policy decision: %w", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO requests (`+requestColumns+`, urgency_rank)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
		r.ID, r.Action, string(r.Params), string(r.Context), r.Urgency, r.Status, r.CreatedAt.UTC(), r.UpdatedAt.UTC(),
		nullTime(r.DecidedAt), nullString(r.DecidedBy), nullString(r.DecidedByID), nullString(string(r.DecidedByType)),
		nullString(r.DecidedByLabel), nullString(r.DecisionReason), nullTime(r.ExpiresAt), string(pd),
		r.AgentID, r.AgentName, nullString(r.IdempotencyKey), nullString(r.RequestHash),
		nullString(string(r.ApprovedParams)), r.ApprovalVotes, r.EscalationLevel, nullString(r.GrantID), r.Urgency.Rank())
	if err != nil {
		return fmt.Errorf("store: insert request: %w", t.s.mapErr(err))
	}
	return nil
}

// RequestDecide is the compare-and-set from pending to r.Status.
func (t *Tx) RequestDecide(ctx context.Context, r *approval.Request) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE requests SET status = $1, decided_at = $2, decided_by = $3,
		decided_by_id = $4, decided_by_type = $5, decided_by_label = $6, decision_reason = $7, updated_at = $8,
		approved_params = $9, approval_votes = $10
		WHERE id = $11 AND status = 'pending'`,
		r.Status, nullTime(r.DecidedAt), nullString(r.DecidedBy), nullString(r.DecidedByID),
		nullString(string(r.DecidedByType)), nullString(r.DecidedByLabel), nullString(r.DecisionReason),
		r.UpdatedAt.UTC(), nullString(string(r.ApprovedParams)), r.ApprovalVotes, r.ID)
	if err != nil {
		return fmt.Errorf("store: decide request: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: decide request: %w", err)
	}
	if n == 0 {
		return approval.ErrAlreadyDecided
	}
	return nil
}

// RequestLock reads request id and, on PostgreSQL, locks its row until the
// transaction ends, so decisions on one request (quorum votes, escalation
// steps) run one after the other. SQLite's single writer already does.
func (t *Tx) RequestLock(ctx context.Context, id string) (*approval.Request, error) {
	lock := ""
	if t.s.dialect.name() == Postgres {
		lock = " FOR UPDATE"
	}
	r, err := scanRequest(t.tx.QueryRowContext(ctx, `SELECT `+t.s.requestSelect+` FROM requests WHERE id = $1`+lock, id))
	if err != nil {
		return nil, t.s.mapErr(err)
	}
	return r, nil
}

// RequestAddVote counts one more approving vote on a pending request and
// returns the new count.
func (t *Tx) RequestAddVote(ctx context.Context, id string, now time.Time) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `UPDATE requests SET approval_votes = approval_votes + 1, updated_at = $1
		WHERE id = $2 AND status = 'pending' RETURNING approval_votes`, now.UTC(), id).Scan(&n)
	if err != nil {
		if err == sql.ErrNoRows {
			return 0, approval.ErrAlreadyDecided
		}
		return 0, fmt.Errorf("store: add vote: %w", err)
	}
	return n, nil
}

// RequestEscalate moves a pending request from escalation level from to
// from+1 (compare-and-set) and reports whether it did.
func (t *Tx) RequestEscalate(ctx context.Context, id string, from int, now time.Time) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE requests SET escalation_level = $1, updated_at = $2
		WHERE id = $3 AND status = 'pending' AND escalation_level = $4`, from+1, now.UTC(), id, from)
	if err != nil {
		return false, fmt.Errorf("store: escalate: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RequestListDue returns pending requests whose expiry has passed.
func (t *Tx) RequestListDue(ctx context.Context, now time.Time, limit int) ([]*approval.Request, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+t.s.requestSelect+` FROM requests
		WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= $1
		ORDER BY expires_at LIMIT $2`+t.s.dialect.skipLocked(), now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: list due requests: %w", err)
	}
	return collectRequests(rows)
}

func collectRequests(rows *sql.Rows) ([]*approval.Request, error) {
	defer rows.Close()
	var out []*approval.Request
	var memo pdMemo
	sc := newRequestScan()
	for rows.Next() {
		r, err := sc.scan(rows, &memo)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// where accumulates WHERE conditions and numbered arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(w.args))))
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// addStatus filters on a request status. A valid status is written as a
// literal: SQLite checks a bound value against the partial index on
// pending requests and then marks the statement to be compiled again
// whenever that parameter is bound, which is every time. Inlined, the
// cached statement is reused (list: ~10 % of its CPU was re-parsing).
func (w *where) addStatus(col string, st approval.Status) {
	if st.Valid() {
		w.conds = append(w.conds, col+" = '"+string(st)+"'")
		return
	}
	w.add(col+" = ?", st)
}

// next returns the placeholder for one more argument.
func (w *where) next(arg any) string {
	w.args = append(w.args, arg)
	return "$" + strconv.Itoa(len(w.args))
}

var requestOrder = map[string]string{
	approval.SortNewest:       "created_at DESC, id DESC",
	approval.SortOldest:       "created_at ASC, id ASC",
	approval.SortUrgency:      "urgency_rank DESC, created_at ASC, id ASC",
	approval.SortSLARemaining: "expires_at ASC NULLS LAST, created_at ASC, id ASC",
}

// RequestList returns one page of requests matching f and the total.
func (s *Store) RequestList(ctx context.Context, f approval.RequestFilter) ([]*approval.Request, int64, error) {
	var w where
	if f.Status != "" {
		w.addStatus("status", f.Status)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.AgentID != "" {
		w.add("agent_id = ?", f.AgentID)
	}
	if f.DecidedBy != "" {
		w.add("decided_by = ?", f.DecidedBy)
	}
	if !f.From.IsZero() {
		w.add("created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		w.add("created_at <= ?", f.To.UTC())
	}
	order, ok := requestOrder[f.Sort]
	if !ok {
		order = requestOrder[approval.SortNewest]
	}
	// The page and the total are two queries in one read transaction (one
	// snapshot). A COUNT(*) OVER () window on the page query would be one
	// round trip, but it makes the engine materialise and sort every
	// matching row before it can return the first: with 10,000 pending
	// requests that is ~100 ms against ~5 ms for an index walk plus a count.
	rtx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list requests: %w", err)
	}
	defer func() { _ = rtx.Rollback() }() // read-only: nothing to keep
	total, err := s.countRequests(ctx, rtx, w)
	if err != nil {
		return nil, 0, err
	}
	if total == 0 || int64(f.Offset) >= total {
		return []*approval.Request{}, total, nil
	}
	q := `SELECT ` + s.requestSelect + ` FROM requests` + w.sql() +
		` ORDER BY ` + order + ` LIMIT ` + w.next(f.Limit) + ` OFFSET ` + w.next(f.Offset)
	rows, err := rtx.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list requests: %w", err)
	}
	defer rows.Close()
	out, err := collectRequests(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list requests: %w", err)
	}
	return out, total, nil
}

// countRequests counts the requests matching w, from the SQLite count
// cache when nothing has committed since it was taken. The generation is
// read before counting, so a commit racing the count only invalidates it.
func (s *Store) countRequests(ctx context.Context, q querier, w where) (int64, error) {
	key := ""
	gen := s.writeGen.Load()
	if s.dialect.name() == SQLite {
		key = w.sql() + fmt.Sprint(w.args...)
		s.countsMu.Lock()
		c, ok := s.counts[key]
		s.countsMu.Unlock()
		if ok && c.gen == gen {
			return c.total, nil
		}
	}
	var total int64
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM requests`+w.sql(), w.args...).Scan(&total); err != nil {
		return 0, fmt.Errorf("store: count requests: %w", err)
	}
	if key != "" {
		s.countsMu.Lock()
		if s.counts == nil || len(s.counts) > 1000 {
			s.counts = map[string]cachedCount{}
		}
		s.counts[key] = cachedCount{gen: gen, total: total}
		s.countsMu.Unlock()
	}
	return total, nil
}

// RequestCountByStatus counts requests in status st.
func (s *Store) RequestCountByStatus(ctx context.Context, st approval.Status) (int64, error) {
	var w where
	w.addStatus("status", st)
	var n int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM requests`+w.sql(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count requests: %w", err)
	}
	return n, nil
}

// RequestDueExists reports whether a pending request's expiry has passed,
// by the store's clock: one read of the partial index on pending expiries,
// so a sweep with nothing to do writes nothing.
func (s *Store) RequestDueExists(ctx context.Context) (bool, error) {
	var due bool
	err := s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM requests
		WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= $1)`, s.nowUTC()).Scan(&due)
	if err != nil {
		return false, fmt.Errorf("store: due requests: %w", err)
	}
	return due, nil
}

// DecisionListByRequest returns a request's decisions and votes, oldest first.
func (s *Store) DecisionListByRequest(ctx context.Context, requestID string) ([]*approval.Decision, error) {
	return s.decisionList(ctx, s.rdb, requestID)
}

// DecisionListByRequest reads a request's decisions inside the transaction.
func (t *Tx) DecisionListByRequest(ctx context.Context, requestID string) ([]*approval.Decision, error) {
	return t.s.decisionList(ctx, t.tx, requestID)
}

func (s *Store) decisionList(ctx context.Context, q querier, requestID string) ([]*approval.Decision, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, request_id, outcome, actor_id, actor_name, actor_type, channel, label, reason, created_at
		FROM decisions WHERE request_id = $1 ORDER BY created_at, id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("store: list decisions: %w", err)
	}
	defer rows.Close()
	out := []*approval.Decision{}
	for rows.Next() {
		var d approval.Decision
		var label, reason sql.NullString
		if err := rows.Scan(&d.ID, &d.RequestID, &d.Outcome, &d.ActorID, &d.ActorName, &d.ActorType, &d.Channel, &label, &reason, &d.CreatedAt); err != nil {
			return nil, err
		}
		d.Label, d.Reason, d.CreatedAt = label.String, reason.String, d.CreatedAt.UTC()
		out = append(out, &d)
	}
	return out, rows.Err()
}

// DecisionInsert stores a decision row.
func (t *Tx) DecisionInsert(ctx context.Context, d *approval.Decision) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO decisions
		(id, request_id, outcome, actor_id, actor_name, actor_type, channel, label, reason, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		d.ID, d.RequestID, d.Outcome, d.ActorID, d.ActorName, d.ActorType, d.Channel,
		nullString(d.Label), nullString(d.Reason), d.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("store: insert decision: %w", t.s.mapErr(err))
	}
	return nil
}
