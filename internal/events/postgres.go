package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentgate/agentgate/internal/approval"
)

// Channel is the PostgreSQL notification channel.
const Channel = "agentgate_events"

// notice is the NOTIFY payload: small, ids only (the limit is 8000 bytes).
type notice struct {
	Origin    string `json:"o"`
	ID        int64  `json:"i"`
	Type      string `json:"t"`
	RequestID string `json:"r"`
	Status    string `json:"s"`
}

// Postgres carries events between processes sharing a PostgreSQL database.
// Its OnEvents hook queues a NOTIFY inside the transaction of each change,
// so a notification exists exactly when the change commits; Publish
// delivers to this process's subscribers at once; Run listens for the
// other processes' notifications.
type Postgres struct {
	hub    *Hub
	pool   *pgxpool.Pool
	origin string
	log    *slog.Logger

	// keysChanged, when set, runs when any process changed an API key and
	// after a reconnection (changes may have been missed), so that caches
	// of keys are dropped.
	keysChanged func()
}

// OnKeysChanged registers fn to run when API keys change anywhere. It
// must be called before Run.
func (p *Postgres) OnKeysChanged(fn func()) { p.keysChanged = fn }

// TypeKeysChanged is the notice type of an API key change.
const TypeKeysChanged = "keys.changed"

// KeysChangedNotice is the payload, on Channel, that makes every process
// drop its cached keys; the store sends it inside the changing transaction.
const KeysChangedNotice = `{"t":"` + TypeKeysChanged + `"}`

// NewPostgres returns a bus on pool. origin identifies this process so it
// ignores its own notifications.
func NewPostgres(hub *Hub, pool *pgxpool.Pool, origin string, log *slog.Logger) *Postgres {
	return &Postgres{hub: hub, pool: pool, origin: origin, log: log}
}

// sqlTx is implemented by store transactions.
type sqlTx interface{ SQL() *sql.Tx }

// OnEvents implements approval.TxHook.
func (p *Postgres) OnEvents(ctx context.Context, tx approval.Tx, evs []approval.Event) error {
	st, ok := tx.(sqlTx)
	if !ok {
		return errors.New("events: transaction has no SQL handle")
	}
	for _, e := range evs {
		b, err := json.Marshal(notice{Origin: p.origin, ID: e.ID, Type: e.Type, RequestID: e.Request.ID, Status: string(e.Request.Status)})
		if err != nil {
			return err
		}
		if _, err := st.SQL().ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, string(b)); err != nil {
			return fmt.Errorf("events: notify: %w", err)
		}
	}
	return nil
}

// Publish implements approval.Publisher for this process's subscribers.
func (p *Postgres) Publish(_ context.Context, evs ...approval.Event) {
	p.hub.Deliver(FromEvents(evs)...)
}

// Run listens until ctx ends, reconnecting after errors. After a
// reconnection it delivers a resync message, because notifications sent
// while it was disconnected are lost.
func (p *Postgres) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := p.listen(ctx, func() {
			if !first {
				p.hub.Deliver(Message{Type: TypeResync})
				if p.keysChanged != nil {
					p.keysChanged()
				}
			}
			first = false
			backoff = 100 * time.Millisecond
		})
		if ctx.Err() != nil {
			return nil
		}
		p.log.Warn("event listener lost its connection; reconnecting", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

func (p *Postgres) listen(ctx context.Context, connected func()) error {
	pc, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// Taken out of the pool and closed at the end, never returned: it is
	// in LISTEN state.
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var nt notice
		if err := json.Unmarshal([]byte(n.Payload), &nt); err != nil {
			p.log.Warn("ignoring a malformed event notification", "err", err)
			continue
		}
		if nt.Type == TypeKeysChanged {
			if p.keysChanged != nil {
				p.keysChanged()
			}
			continue
		}
		if nt.Origin == p.origin {
			continue
		}
		p.hub.Deliver(Message{ID: nt.ID, Type: nt.Type, RequestID: nt.RequestID, Status: approval.Status(nt.Status)})
	}
}
