package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/webhook"
)

var (
	_ webhook.Store = (*Store)(nil)
	_ webhook.Tx    = (*Tx)(nil)
)

const webhookColumns = `id, url, events, secret, enabled, created_by, created_at, updated_at, deleted_at`

func scanWebhook(row scanner) (*webhook.Webhook, error) {
	var (
		w       webhook.Webhook
		events  string
		deleted sql.NullTime
	)
	if err := row.Scan(&w.ID, &w.URL, &events, &w.Secret, &w.Enabled, &w.CreatedBy, &w.CreatedAt, &w.UpdatedAt, &deleted); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("store: webhook %s events: %w", w.ID, err)
	}
	w.CreatedAt, w.UpdatedAt, w.DeletedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC(), timeOf(deleted)
	return &w, nil
}

func (s *Store) webhookList(ctx context.Context, q querier, cond string, args ...any) ([]*webhook.Webhook, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE `+cond+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list webhooks: %w", err)
	}
	defer rows.Close()
	out := []*webhook.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// WithWebhookTx runs fn in a write transaction.
func (s *Store) WithWebhookTx(ctx context.Context, fn func(tx webhook.Tx) error) error {
	return s.withTx(ctx, func(tx *Tx) error { return fn(tx) })
}

// WebhookList returns the webhooks that are not deleted, oldest first.
func (s *Store) WebhookList(ctx context.Context) ([]*webhook.Webhook, error) {
	return s.webhookList(ctx, s.rdb, `deleted_at IS NULL`)
}

// WebhookListEnabled returns the enabled webhooks inside the transaction.
func (t *Tx) WebhookListEnabled(ctx context.Context) ([]*webhook.Webhook, error) {
	return t.s.webhookList(ctx, t.tx, `deleted_at IS NULL AND enabled = $1`, true)
}

func (s *Store) webhookGetByID(ctx context.Context, q querier, id string) (*webhook.Webhook, error) {
	w, err := scanWebhook(q.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return w, nil
}

// WebhookGetByID returns webhook id, deleted or not.
func (s *Store) WebhookGetByID(ctx context.Context, id string) (*webhook.Webhook, error) {
	return s.webhookGetByID(ctx, s.rdb, id)
}

// WebhookGetByID reads webhook id inside the transaction.
func (t *Tx) WebhookGetByID(ctx context.Context, id string) (*webhook.Webhook, error) {
	return t.s.webhookGetByID(ctx, t.tx, id)
}

// WebhookGeneration returns the counter bumped by every webhook write.
func (t *Tx) WebhookGeneration(ctx context.Context) (int64, error) {
	var gen int64
	if err := t.tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'webhook_generation'`).Scan(&gen); err != nil {
		return 0, fmt.Errorf("store: webhook generation: %w", err)
	}
	return gen, nil
}

func (t *Tx) bumpWebhookGeneration(ctx context.Context) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'webhook_generation'`); err != nil {
		return fmt.Errorf("store: bump webhook generation: %w", err)
	}
	return nil
}

// WebhookInsert stores a new webhook.
func (t *Tx) WebhookInsert(ctx context.Context, w *webhook.Webhook) error {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		w.ID, w.URL, string(events), w.Secret, w.Enabled, w.CreatedBy, w.CreatedAt.UTC(), w.UpdatedAt.UTC(), nullTime(w.DeletedAt)); err != nil {
		return fmt.Errorf("store: insert webhook: %w", t.s.mapErr(err))
	}
	return t.bumpWebhookGeneration(ctx)
}

// WebhookUpdate writes w's url, events, secret, enabled flag and times.
func (t *Tx) WebhookUpdate(ctx context.Context, w *webhook.Webhook) error {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return err
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE webhooks SET url = $1, events = $2, secret = $3, enabled = $4, updated_at = $5,
		deleted_at = $6 WHERE id = $7`, w.URL, string(events), w.Secret, w.Enabled, w.UpdatedAt.UTC(), nullTime(w.DeletedAt), w.ID)
	if err != nil {
		return fmt.Errorf("store: update webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return approval.ErrNotFound
	}
	return t.bumpWebhookGeneration(ctx)
}

// WebhookSetSecret replaces the secret of webhook id if it still is old.
func (t *Tx) WebhookSetSecret(ctx context.Context, id, old, secret string) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE webhooks SET secret = $1 WHERE id = $2 AND secret = $3`, secret, id, old)
	if err != nil {
		return false, fmt.Errorf("store: set webhook secret: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

const deliveryColumns = `id, webhook_id, event, request_id, data, status, attempts, last_status_code, last_error,
	next_attempt_at, created_at, updated_at, completed_at`

func scanDelivery(row scanner, extra ...any) (*webhook.Delivery, error) {
	var (
		d                    webhook.Delivery
		requestID, lastError sql.NullString
		data                 string
		code                 sql.NullInt64
		next, completed      sql.NullTime
	)
	dest := append([]any{&d.ID, &d.WebhookID, &d.Event, &requestID, &data, &d.Status, &d.Attempts, &code, &lastError,
		&next, &d.CreatedAt, &d.UpdatedAt, &completed}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	d.RequestID, d.LastError = requestID.String, lastError.String
	d.Data = json.RawMessage(data)
	d.LastStatusCode = int(code.Int64)
	d.NextAttemptAt, d.CompletedAt = timeOf(next), timeOf(completed)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return &d, nil
}

func (s *Store) deliveryGetByID(ctx context.Context, q querier, id string) (*webhook.Delivery, error) {
	d, err := scanDelivery(q.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = $1`, id))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return d, nil
}

// DeliveryGetByID returns delivery id.
func (s *Store) DeliveryGetByID(ctx context.Context, id string) (*webhook.Delivery, error) {
	return s.deliveryGetByID(ctx, s.rdb, id)
}

// DeliveryGetByID reads delivery id inside the transaction.
func (t *Tx) DeliveryGetByID(ctx context.Context, id string) (*webhook.Delivery, error) {
	return t.s.deliveryGetByID(ctx, t.tx, id)
}

// deliveryInsertBatch bounds the rows of one INSERT (13 parameters each).
const deliveryInsertBatch = 200

// DeliveryInsert stores new deliveries as given, many rows per statement,
// and returns the ids it inserted: a delivery whose id exists is left
// alone (a batch job run twice records its deliveries once).
func (t *Tx) DeliveryInsert(ctx context.Context, ds []*webhook.Delivery) ([]string, error) {
	const cols = 13
	var inserted []string
	for len(ds) > 0 {
		n := min(len(ds), deliveryInsertBatch)
		var b strings.Builder
		b.WriteString(`INSERT INTO webhook_deliveries (` + deliveryColumns + `) VALUES `)
		args := make([]any, 0, n*cols)
		for i, d := range ds[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			placeholders(&b, i*cols, cols)
			args = append(args, d.ID, d.WebhookID, d.Event, nullString(d.RequestID), string(d.Data), d.Status, d.Attempts,
				nullCode(d.LastStatusCode), nullString(d.LastError), nullTime(d.NextAttemptAt), d.CreatedAt.UTC(),
				d.UpdatedAt.UTC(), nullTime(d.CompletedAt))
		}
		b.WriteString(` ON CONFLICT (id) DO NOTHING RETURNING id`)
		rows, err := t.tx.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("store: insert deliveries: %w", t.s.mapErr(err))
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: insert deliveries: %w", err)
			}
			inserted = append(inserted, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("store: insert deliveries: %w", err)
		}
		ds = ds[n:]
	}
	return inserted, nil
}

// placeholders writes "($from+1, ..., $from+n)".
func placeholders(b *strings.Builder, from, n int) {
	b.WriteByte('(')
	for j := range n {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+j+1))
	}
	b.WriteByte(')')
}

// attemptInsertBatch bounds the rows of one INSERT (7 parameters each).
const attemptInsertBatch = 400

// AttemptInsert stores attempts, many rows per statement.
func (t *Tx) AttemptInsert(ctx context.Context, as []*webhook.Attempt) error {
	const cols = 7
	for len(as) > 0 {
		n := min(len(as), attemptInsertBatch)
		var b strings.Builder
		b.WriteString(`INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, response_body, duration_ms, created_at) VALUES `)
		args := make([]any, 0, n*cols)
		for i, a := range as[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			placeholders(&b, i*cols, cols)
			args = append(args, a.DeliveryID, a.Attempt, nullCode(a.StatusCode), nullString(a.Error), nullString(a.ResponseBody),
				a.Duration.Milliseconds(), a.CreatedAt.UTC())
		}
		if _, err := t.tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("store: insert attempts: %w", err)
		}
		as = as[n:]
	}
	return nil
}

// jsonIDs returns the condition "col is one of ids" with ids passed as one
// JSON array parameter ($1), so the statement's text (and on SQLite its
// cached prepared statement) does not depend on how many there are.
func (s *Store) jsonIDs(col string) string {
	if s.dialect.name() == Postgres {
		return col + ` IN (SELECT jsonb_array_elements_text($1::jsonb))`
	}
	return col + ` IN (SELECT value FROM json_each($1))`
}

// DeliveryExisting returns those of ids that are stored deliveries.
func (s *Store) DeliveryExisting(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id FROM webhook_deliveries WHERE `+s.jsonIDs("id"), string(list))
	if err != nil {
		return nil, fmt.Errorf("store: look up deliveries: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: look up deliveries: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DeliveryList returns a page of f's deliveries, newest first, and the
// total.
func (s *Store) DeliveryList(ctx context.Context, f webhook.DeliveryFilter) ([]*webhook.Delivery, int64, error) {
	var w where
	w.add("webhook_id = ?", f.WebhookID)
	if len(f.Statuses) > 0 {
		ph := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			ph[i] = w.next(st)
		}
		w.conds = append(w.conds, "status IN ("+strings.Join(ph, ", ")+")")
	}
	filterArgs := len(w.args)
	q := `SELECT ` + deliveryColumns + `, COUNT(*) OVER () FROM webhook_deliveries` + w.sql() +
		` ORDER BY created_at DESC, id DESC LIMIT ` + w.next(f.Limit) + ` OFFSET ` + w.next(f.Offset)
	rows, err := s.rdb.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list deliveries: %w", err)
	}
	defer rows.Close()
	var (
		out   = []*webhook.Delivery{}
		total int64
	)
	for rows.Next() {
		d, err := scanDelivery(rows, &total)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: list deliveries: %w", err)
	}
	if len(out) == 0 && f.Offset > 0 {
		if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries`+w.sql(), w.args[:filterArgs]...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("store: count deliveries: %w", err)
		}
	}
	return out, total, nil
}

// AttemptList returns the attempts of a delivery, oldest first.
func (s *Store) AttemptList(ctx context.Context, deliveryID string) ([]*webhook.Attempt, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, delivery_id, attempt, status_code, error, response_body, duration_ms, created_at
		FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("store: list attempts: %w", err)
	}
	defer rows.Close()
	out := []*webhook.Attempt{}
	for rows.Next() {
		var (
			a          webhook.Attempt
			code       sql.NullInt64
			errText    sql.NullString
			body       sql.NullString
			durationMs int64
		)
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.Attempt, &code, &errText, &body, &durationMs, &a.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: list attempts: %w", err)
		}
		a.StatusCode, a.Error, a.ResponseBody = int(code.Int64), errText.String, body.String
		a.Duration = time.Duration(durationMs) * time.Millisecond
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, &a)
	}
	return out, rows.Err()
}

func nullCode(c int) sql.NullInt64 { return sql.NullInt64{Int64: int64(c), Valid: c != 0} }

// DeliveryRecord stores an attempt and applies it to its delivery. The
// delivery's status, next attempt and completion change only while it is
// pending, so an attempt that races a cancellation does not revive it.
func (t *Tx) DeliveryRecord(ctx context.Context, r webhook.DeliveryResult) error {
	a := r.Attempt
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, response_body, duration_ms, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.DeliveryID, a.Attempt, nullCode(a.StatusCode), nullString(a.Error),
		nullString(a.ResponseBody), a.Duration.Milliseconds(), a.CreatedAt.UTC()); err != nil {
		return fmt.Errorf("store: insert attempt: %w", err)
	}
	completed := sql.NullTime{}
	if r.Status != webhook.StatusPending {
		completed = nullTime(t.now)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = $1, last_error = $2,
		updated_at = $3,
		status = CASE WHEN status = 'pending' THEN $4 ELSE status END,
		next_attempt_at = CASE WHEN status = 'pending' THEN $5 ELSE next_attempt_at END,
		completed_at = CASE WHEN status = 'pending' THEN $6 ELSE completed_at END
		WHERE id = $7`, nullCode(a.StatusCode), nullString(a.Error), t.now, r.Status, nullTime(r.NextAttemptAt), completed, a.DeliveryID)
	if err != nil {
		return fmt.Errorf("store: record delivery attempt: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return approval.ErrNotFound
	}
	return nil
}

// DeliveryCancelPending cancels a webhook's pending deliveries.
func (t *Tx) DeliveryCancelPending(ctx context.Context, webhookID, reason string) (int64, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'canceled', last_error = $1, updated_at = $2,
		completed_at = $2, next_attempt_at = NULL WHERE webhook_id = $3 AND status = 'pending'`, reason, t.now, webhookID)
	if err != nil {
		return 0, fmt.Errorf("store: cancel deliveries: %w", err)
	}
	return res.RowsAffected()
}

// DeliveryRequeue makes delivery id pending again.
func (t *Tx) DeliveryRequeue(ctx context.Context, id string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'pending', completed_at = NULL, next_attempt_at = NULL,
		updated_at = $1 WHERE id = $2`, t.now, id)
	if err != nil {
		return fmt.Errorf("store: requeue delivery: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return approval.ErrNotFound
	}
	return nil
}
