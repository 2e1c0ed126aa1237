// Package store implements approval.Store and auth.Store on SQLite (the
// embedded default) and PostgreSQL, with one set of SQL for both.
//
// SQL is written once with $1..$n placeholders in ascending order of first
// appearance, which both modernc.org/sqlite and pgx bind by number. The few
// differences between the engines are methods of dialect.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations
var migrations embed.FS

// DefaultSQLitePath is where the database lives when DATABASE_URL is unset.
const DefaultSQLitePath = "./data/agentgate.db"

// Options configure Open.
type Options struct {
	// Now is the clock for transaction timestamps. Defaults to time.Now.
	Now func() time.Time
	// MaxConns bounds the PostgreSQL pool (and the SQLite reader pool).
	// Defaults to 10 on PostgreSQL and 2×GOMAXPROCS (at least 4) on SQLite.
	MaxConns int
	// SQLiteSynchronous is the SQLite synchronous pragma: NORMAL (the
	// default; durable across process crashes, a power loss may drop the
	// last commits) or FULL (an fsync per commit).
	SQLiteSynchronous string
	Logger            *slog.Logger
}

// Store is the database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB // writes; on SQLite a single connection, so writers queue in Go instead of spinning on SQLITE_BUSY
	rdb     *sql.DB // reads; on PostgreSQL the same pool as db
	pool    *pgxpool.Pool
	dialect dialect
	// requestSelect is the select list of a request (requestColumns, with
	// timestamps read as text on SQLite).
	requestSelect string
	now           func() time.Time
	log           *slog.Logger
	path          string   // SQLite file
	batch         *batcher // SQLite group commit

	// SQLite only: counts of listed requests, valid while no transaction
	// has committed since (one process writes a SQLite file, so the
	// generation bumped after each commit is exact). Counting 10,000
	// pending rows costs more than reading the page itself.
	writeGen atomic.Int64
	countsMu sync.Mutex
	counts   map[string]cachedCount
}

type cachedCount struct {
	gen   int64
	total int64
}

// Dialect names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// IsPostgresURL reports whether url selects PostgreSQL.
func IsPostgresURL(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// SQLitePath returns the file path that url selects, or an error for URLs
// that select nothing usable.
func SQLitePath(url string) (string, error) {
	p := url
	switch {
	case p == "":
		return DefaultSQLitePath, nil
	case strings.HasPrefix(p, "sqlite://"):
		p = strings.TrimPrefix(p, "sqlite://")
	case strings.HasPrefix(p, "sqlite:"):
		p = strings.TrimPrefix(p, "sqlite:")
	case strings.HasPrefix(p, "file:"):
		p = strings.TrimPrefix(p, "file:")
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	switch {
	case p == "":
		return "", errors.New("DATABASE_URL names no SQLite file")
	case p == ":memory:" || strings.Contains(p, "mode=memory"):
		return "", errors.New("in-memory SQLite is not supported (each connection would see its own database); use a file path")
	case strings.Contains(url, "://") && !strings.HasPrefix(url, "sqlite://"):
		return "", fmt.Errorf("DATABASE_URL scheme is not supported: use a file path, sqlite:PATH or postgres://")
	}
	return p, nil
}

// Open connects to the database named by url: PostgreSQL for postgres://
// URLs, else a SQLite file (created with its folder when missing). It does
// not migrate; call Migrate.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if IsPostgresURL(url) {
		return openPostgres(ctx, url, opts)
	}
	path, err := SQLitePath(url)
	if err != nil {
		return nil, err
	}
	return openSQLite(ctx, path, opts)
}

// sqliteDSN builds the modernc DSN. Each setting matters:
//   - journal_mode(WAL): readers and the writer do not block each other.
//   - busy_timeout: another process holding the write lock makes us wait,
//     not fail.
//   - foreign_keys(1): SQLite leaves them off by default.
//   - synchronous: NORMAL in WAL mode survives process crashes; FULL also
//     survives power loss at an fsync per commit.
//   - temp_store(MEMORY): savepoint sub-journals stay in memory.
//   - _txlock=immediate: BEGIN takes the write lock at once. With the
//     default (deferred) a transaction that reads then writes fails with
//     SQLITE_BUSY when it cannot upgrade its lock, and busy_timeout does not
//     help with that.
//   - _time_format=sqlite: times are written as sortable text that scans
//     back into time.Time exactly (all values are UTC).
func sqliteDSN(path string, write bool, synchronous string) string {
	q := []string{
		"_pragma=journal_mode(WAL)",
		"_pragma=busy_timeout(10000)",
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(" + synchronous + ")",
		// Savepoints (group commit) journal the pages they change; in
		// memory that costs no file writes (a temp file per savepoint
		// otherwise).
		"_pragma=temp_store(MEMORY)",
		"_time_format=sqlite",
	}
	if write {
		q = append(q, "_txlock=immediate")
	} else {
		q = append(q, "_pragma=query_only(1)")
	}
	return "file:" + path + "?" + strings.Join(q, "&")
}

func openSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: create database folder: %w", err)
		}
	}
	sync := strings.ToUpper(opts.SQLiteSynchronous)
	switch sync {
	case "":
		sync = "NORMAL"
	case "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("store: SQLite synchronous must be NORMAL or FULL, not %q", opts.SQLiteSynchronous)
	}
	db := openSQLiteDB(sqliteDSN(path, true, sync))
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	rdb := openSQLiteDB(sqliteDSN(path, false, sync))
	n := opts.MaxConns
	if n <= 0 {
		n = max(4, 2*runtime.GOMAXPROCS(0))
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxIdleTime(0)
	rdb.SetConnMaxLifetime(0)
	s := &Store{db: db, rdb: rdb, dialect: sqliteDialect{}, now: opts.Now, log: opts.Logger, path: path,
		requestSelect: textTimestamps(requestColumns)}
	s.batch = newBatcher(s, 64)
	return s, nil
}

func openPostgres(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may echo the URL with its password: keep it out.
		return nil, errors.New("store: DATABASE_URL is not a valid PostgreSQL URL")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	} else if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 10
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to postgres at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	db := stdlib.OpenDBFromPool(pool)
	return &Store{db: db, rdb: db, pool: pool, dialect: postgresDialect{}, now: opts.Now, log: opts.Logger,
		requestSelect: requestColumns}, nil
}

// Dialect returns SQLite or Postgres.
func (s *Store) Dialect() string { return s.dialect.name() }

// DB returns the write database handle (River runs on it).
func (s *Store) DB() *sql.DB { return s.db }

// Pool returns the PostgreSQL pool, or nil on SQLite.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Path returns the SQLite file path, or "" on PostgreSQL.
func (s *Store) Path() string { return s.path }

// Close closes every connection.
func (s *Store) Close() error {
	if s.batch != nil {
		s.batch.close()
	}
	var errs []error
	if s.rdb != s.db {
		errs = append(errs, s.rdb.Close())
	}
	errs = append(errs, s.db.Close())
	if s.pool != nil {
		s.pool.Close()
	}
	return errors.Join(errs...)
}

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.rdb.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

func (s *Store) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+s.dialect.name())
	if err != nil {
		return nil, err
	}
	// Migrations from parallel lines of work may land in any order; apply
	// a missing lower-numbered one instead of refusing to start.
	gopts := []goose.ProviderOption{goose.WithAllowOutofOrder(true)}
	d := goose.DialectSQLite3
	if s.dialect.name() == Postgres {
		d = goose.DialectPostgres
		// Several replicas starting together migrate once: the others wait
		// on a session advisory lock.
		// Probe every second (goose's default is five) for up to 5 minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		gopts = append(gopts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(d, s.db, sub, gopts...)
}

// Migrate applies every pending migration and returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	p, err := s.provider()
	if err != nil {
		return 0, fmt.Errorf("store: migrations: %w", err)
	}
	// Replicas restarting on an up-to-date database skip the lock.
	if has, err := p.HasPending(ctx); err == nil && !has {
		return 0, nil
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("store: migrate: %w", err)
	}
	return len(res), nil
}

// MigrationStatus reports the applied and the latest known version.
func (s *Store) MigrationStatus(ctx context.Context) (current, latest int64, err error) {
	p, err := s.provider()
	if err != nil {
		return 0, 0, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("store: migration status: %w", err)
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}

// nowUTC is the store's clock in UTC at microsecond precision (what
// PostgreSQL keeps), so both engines round-trip the same value.
func (s *Store) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Backup writes a consistent copy of the SQLite database to path with
// VACUUM INTO. It runs on a connection of its own in a read transaction, so
// a running server keeps writing meanwhile. PostgreSQL is backed up with
// its own tools (pg_dump); see docs/deployment.md.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.dialect.name() != SQLite {
		return errors.New("store: backup is for SQLite; back up PostgreSQL with pg_dump (see docs/deployment.md)")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("store: backup: %s already exists", path)
	}
	db, err := sql.Open("sqlite", sqliteDSN(s.path, false, "NORMAL"))
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer db.Close()
	// query_only would refuse VACUUM INTO: turn it off on this connection.
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "VACUUM INTO $1", path); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	return nil
}
