// Package jobs runs background work on River: expiry sweeps, webhook
// deliveries, notifications. On SQLite River shares the store's single
// write connection; on PostgreSQL an insert-only client joins the store's
// database/sql transactions while a pgx client works the jobs (with
// LISTEN/NOTIFY for prompt pickup).
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/agentgate/agentgate/internal/store"
)

// Options configure the Runner.
type Options struct {
	Workers *river.Workers
	// MaxWorkers bounds concurrent jobs. Defaults to 50.
	MaxWorkers int
	// Queues adds named queues (besides the default one) with their
	// maximum concurrent jobs, so that one kind of slow job (webhook
	// deliveries) cannot hold up the others.
	Queues map[string]int
	// PollInterval is how often SQLite is polled for new jobs (PostgreSQL
	// is notified). Defaults to 100ms.
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Runner owns the River clients.
type Runner struct {
	st      *store.Store
	sqlite  *river.Client[*sql.Tx] // SQLite: inserts and works
	pgWork  *river.Client[pgx.Tx]  // PostgreSQL: works
	pgInsrt *river.Client[*sql.Tx] // PostgreSQL: inserts inside store transactions
	log     *slog.Logger
}

// riverLockKey serialises River migrations across replicas.
const riverLockKey = 0x61676e74 // "agnt"

// Migrate creates or updates River's tables.
func Migrate(ctx context.Context, st *store.Store) error {
	if st.Dialect() == store.SQLite {
		m, err := rivermigrate.New(riversqlite.New(st.DB()), nil)
		if err != nil {
			return fmt.Errorf("jobs: migrate: %w", err)
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("jobs: migrate: %w", err)
		}
		return nil
	}
	m, err := rivermigrate.New(riverpgxv5.New(st.Pool()), nil)
	if err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	// Replicas starting together: one migrates, the others wait on the
	// session lock and then find nothing to do. River's migrations cannot
	// all run in one transaction (one adds an enum value that the next
	// uses), so the lock is a session lock on a connection of its own.
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, riverLockKey); err != nil {
		return fmt.Errorf("jobs: migrate lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, riverLockKey) //nolint:errcheck // the lock also ends with the session
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	return nil
}

// New builds the clients (it does not start them).
func New(st *store.Store, opts Options) (*Runner, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxWorkers <= 0 {
		opts.MaxWorkers = 50
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.Workers == nil {
		opts.Workers = river.NewWorkers()
	}
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.MaxWorkers}}
	for name, n := range opts.Queues {
		queues[name] = river.QueueConfig{MaxWorkers: max(n, 1)}
	}
	// River logs at info on every start and stop; keep only its warnings.
	riverLog := slog.New(levelFilter{opts.Logger.Handler(), slog.LevelWarn})
	cfg := &river.Config{
		Logger:                      riverLog,
		Workers:                     opts.Workers,
		Queues:                      queues,
		CompletedJobRetentionPeriod: time.Hour,
		JobTimeout:                  2 * time.Minute,
	}
	r := &Runner{st: st, log: opts.Logger}
	var err error
	if st.Dialect() == store.SQLite {
		cfg.FetchPollInterval = opts.PollInterval
		cfg.FetchCooldown = opts.PollInterval
		cfg.PollOnly = true
		// Every poll costs SQLite a compilation of River's fetch statement
		// (it re-plans it whenever its parameters are bound), most of an
		// idle server's CPU. The default queue carries only scheduled jobs
		// (escalations), which River's scheduler releases every 5 s
		// anyway, so it is polled once a second.
		def := queues[river.QueueDefault]
		def.FetchPollInterval = max(opts.PollInterval, time.Second)
		queues[river.QueueDefault] = def
		r.sqlite, err = river.NewClient(riversqlite.New(st.DB()), cfg)
		if err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		return r, nil
	}
	// Jobs inserted by the insert-only client (inside store transactions)
	// do not always wake the worker client's listener, which then finds
	// them at its next poll (1 s by default): poll as often as on SQLite.
	cfg.FetchPollInterval = opts.PollInterval
	cfg.FetchCooldown = opts.PollInterval
	r.pgWork, err = river.NewClient(riverpgxv5.New(st.Pool()), cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	r.pgInsrt, err = river.NewClient(riverdatabasesql.New(st.DB()), &river.Config{Logger: riverLog})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return r, nil
}

// Start starts working jobs.
func (r *Runner) Start(ctx context.Context) error {
	if r.sqlite != nil {
		return r.sqlite.Start(ctx)
	}
	return r.pgWork.Start(ctx)
}

// Stop waits for running jobs to finish, until ctx ends.
func (r *Runner) Stop(ctx context.Context) error {
	c := r.pgWork
	if r.sqlite != nil {
		if err := r.sqlite.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
	if err := c.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// InsertTx enqueues a job inside a store transaction: it exists exactly
// when the transaction commits.
func (r *Runner) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	c := r.sqlite
	if c == nil {
		c = r.pgInsrt
	}
	if _, err := c.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// InsertManyTx enqueues several jobs in one statement inside a store
// transaction.
func (r *Runner) InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	c := r.sqlite
	if c == nil {
		c = r.pgInsrt
	}
	if _, err := c.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("jobs: enqueue %d %s: %w", len(params), params[0].Args.Kind(), err)
	}
	return nil
}

// Insert enqueues a job in its own transaction.
func (r *Runner) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	c := r.sqlite
	if c == nil {
		c = r.pgInsrt
	}
	if _, err := c.Insert(ctx, args, opts); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// levelFilter drops records below a level.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(n), f.min}
}
