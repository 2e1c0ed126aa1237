package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/channels"
)

var (
	_ channels.Store = (*Store)(nil)
	_ channels.Tx    = (*Tx)(nil)
)

const notificationColumns = `id, request_id, channel, target, reason, step, status, external_channel, external_id,
	attempts, last_error, created_at, updated_at, sent_at`

func scanNotification(row scanner) (*channels.Notification, error) {
	var (
		n                        channels.Notification
		extChannel, extID, lastE sql.NullString
		sent                     sql.NullTime
	)
	if err := row.Scan(&n.ID, &n.RequestID, &n.Channel, &n.Target, &n.Reason, &n.Step, &n.Status, &extChannel, &extID,
		&n.Attempts, &lastE, &n.CreatedAt, &n.UpdatedAt, &sent); err != nil {
		return nil, err
	}
	n.ExternalChannel, n.ExternalID, n.LastError = extChannel.String, extID.String, lastE.String
	n.CreatedAt, n.UpdatedAt, n.SentAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC(), timeOf(sent)
	return &n, nil
}

func (s *Store) notificationList(ctx context.Context, q querier, cond string, args ...any) ([]*channels.Notification, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE `+cond+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list notifications: %w", err)
	}
	defer rows.Close()
	out := []*channels.Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list notifications: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// WithChannelTx runs fn in a write transaction.
func (s *Store) WithChannelTx(ctx context.Context, fn func(tx channels.Tx) error) error {
	return s.withTx(ctx, func(tx *Tx) error { return fn(tx) })
}

// NotificationGetByID returns notification id.
func (s *Store) NotificationGetByID(ctx context.Context, id string) (*channels.Notification, error) {
	n, err := scanNotification(s.rdb.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = $1`, id))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return n, nil
}

// NotificationListByRequest returns a request's notifications, oldest first.
func (s *Store) NotificationListByRequest(ctx context.Context, requestID string) ([]*channels.Notification, error) {
	return s.notificationList(ctx, s.rdb, `request_id = $1`, requestID)
}

// NotificationLock reads notification id and locks it (PostgreSQL; the
// SQLite write transaction holds the database anyway).
func (t *Tx) NotificationLock(ctx context.Context, id string) (*channels.Notification, error) {
	q := `SELECT ` + notificationColumns + ` FROM notifications WHERE id = $1`
	if t.s.dialect.name() == Postgres {
		q += ` FOR UPDATE`
	}
	n, err := scanNotification(t.tx.QueryRowContext(ctx, q, id))
	if err != nil {
		return nil, t.s.mapErr(err)
	}
	return n, nil
}

// NotificationListByRequests returns the notifications of the given
// requests, oldest first.
func (t *Tx) NotificationListByRequests(ctx context.Context, requestIDs []string) ([]*channels.Notification, error) {
	if len(requestIDs) == 0 {
		return nil, nil
	}
	ph := make([]string, len(requestIDs))
	args := make([]any, len(requestIDs))
	for i, id := range requestIDs {
		ph[i] = "$" + strconv.Itoa(i+1)
		args[i] = id
	}
	return t.s.notificationList(ctx, t.tx, `request_id IN (`+strings.Join(ph, ", ")+`)`, args...)
}

// notificationInsertBatch bounds the rows of one INSERT (10 parameters each).
const notificationInsertBatch = 300

// NotificationInsert stores new notifications.
func (t *Tx) NotificationInsert(ctx context.Context, ns []*channels.Notification) error {
	for len(ns) > 0 {
		n := min(len(ns), notificationInsertBatch)
		var b strings.Builder
		b.WriteString(`INSERT INTO notifications (id, request_id, channel, target, reason, step, status, last_error, created_at, updated_at) VALUES `)
		args := make([]any, 0, n*10)
		for i, x := range ns[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j := range 10 {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString("$" + strconv.Itoa(i*10+j+1))
			}
			b.WriteByte(')')
			args = append(args, x.ID, x.RequestID, x.Channel, x.Target, x.Reason, x.Step, x.Status, nullString(x.LastError),
				x.CreatedAt.UTC(), x.UpdatedAt.UTC())
		}
		if _, err := t.tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("store: insert notifications: %w", t.s.mapErr(err))
		}
		ns = ns[n:]
	}
	return nil
}

// NotificationUpdate writes n's status, external ids, attempts, last error
// and times.
func (t *Tx) NotificationUpdate(ctx context.Context, n *channels.Notification) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE notifications SET status = $1, external_channel = $2, external_id = $3,
		attempts = $4, last_error = $5, updated_at = $6, sent_at = $7 WHERE id = $8`,
		n.Status, nullString(n.ExternalChannel), nullString(n.ExternalID), n.Attempts, nullString(n.LastError),
		n.UpdatedAt.UTC(), nullTime(n.SentAt), n.ID)
	if err != nil {
		return fmt.Errorf("store: update notification: %w", err)
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return approval.ErrNotFound
	}
	return nil
}

const decisionLinkColumns = `id, token_hash, request_id, notification_id, recipient, decision, expires_at, used_at,
	invalidated_at, created_at`

// DecisionLinkGetByHash returns the link whose token hashes to hash.
func (s *Store) DecisionLinkGetByHash(ctx context.Context, hash string) (*channels.DecisionLink, error) {
	var (
		l           channels.DecisionLink
		used, inval sql.NullTime
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT `+decisionLinkColumns+` FROM decision_links WHERE token_hash = $1`, hash).Scan(
		&l.ID, &l.TokenHash, &l.RequestID, &l.NotificationID, &l.Recipient, &l.Decision, &l.ExpiresAt, &used, &inval, &l.CreatedAt)
	if err != nil {
		return nil, s.mapErr(err)
	}
	l.ExpiresAt, l.CreatedAt = l.ExpiresAt.UTC(), l.CreatedAt.UTC()
	l.UsedAt, l.InvalidatedAt = timeOf(used), timeOf(inval)
	return &l, nil
}

// DecisionLinkReplace deletes the unused links of a notification and
// stores links.
func (t *Tx) DecisionLinkReplace(ctx context.Context, notificationID string, links []*channels.DecisionLink) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM decision_links WHERE notification_id = $1 AND used_at IS NULL`, notificationID); err != nil {
		return fmt.Errorf("store: replace decision links: %w", err)
	}
	for _, l := range links {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO decision_links (id, token_hash, request_id, notification_id, recipient,
			decision, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			l.ID, l.TokenHash, l.RequestID, l.NotificationID, l.Recipient, l.Decision, l.ExpiresAt.UTC(), l.CreatedAt.UTC()); err != nil {
			return fmt.Errorf("store: insert decision link: %w", t.s.mapErr(err))
		}
	}
	return nil
}

// DecisionLinkUse spends link id (compare-and-set on an unused, valid,
// unexpired link) and invalidates the other unused links of the same
// request and recipient.
func (t *Tx) DecisionLinkUse(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE decision_links SET used_at = $1
		WHERE id = $2 AND used_at IS NULL AND invalidated_at IS NULL AND expires_at > $3`, now.UTC(), id, now.UTC())
	if err != nil {
		return false, fmt.Errorf("store: use decision link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE decision_links SET invalidated_at = $1
		WHERE id <> $2 AND used_at IS NULL AND invalidated_at IS NULL
		AND (request_id, recipient) = (SELECT request_id, recipient FROM decision_links WHERE id = $3)`, now.UTC(), id, id); err != nil {
		return false, fmt.Errorf("store: invalidate sibling decision links: %w", err)
	}
	return true, nil
}

// InteractionRecord remembers key until expires; false means it was
// already there (a replay). Expired keys are deleted on the way.
func (t *Tx) InteractionRecord(ctx context.Context, key string, expires time.Time) (bool, error) {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM interaction_replays WHERE expires_at <= $1`, t.now); err != nil {
		return false, fmt.Errorf("store: forget old interactions: %w", err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO interaction_replays (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
		key, expires.UTC())
	if err != nil {
		return false, fmt.Errorf("store: record interaction: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
