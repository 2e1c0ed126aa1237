// Package testserver starts a complete AgentGate server for tests: the
// real app wiring on a temporary SQLite file (or a fresh PostgreSQL schema)
// on a random loopback port, with an admin key ready to use.
package testserver

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
)

// Server is a running test server.
type Server struct {
	URL      string // http://127.0.0.1:port (https:// with AGENTGATE_TLS_CERT)
	AdminKey string // an admin API key
	App      *app.App
	Config   *config.Config

	cancel context.CancelFunc
	done   chan error
}

// Options adjust the server.
type Options struct {
	// DatabaseURL selects the database; empty means a new SQLite file.
	// Use PostgresURL(t) for a fresh schema on the CI PostgreSQL.
	DatabaseURL string
	// Configure edits the configuration before the server is built.
	Configure func(*config.Config)
	// Log receives the server's logs; nil discards them (set
	// AGENTGATE_TEST_LOG=1 to see them on stderr).
	Log io.Writer
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("testserver: config: %v", err)
	}
	cfg.DatabaseURL = opts.DatabaseURL
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = filepath.Join(t.TempDir(), "agentgate.db")
	}
	cfg.Host, cfg.Port = "127.0.0.1", 0
	// The access log is on with AGENTGATE_TEST_LOG, so that CI's secret
	// scan of all test logs sees every request line.
	cfg.AccessLog = os.Getenv("AGENTGATE_TEST_LOG") != ""
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.ExpirySweep = 200 * time.Millisecond
	// Tests send many bad credentials from one address; the tests of the
	// auth-failure throttle turn it on.
	cfg.AuthFailureLimit = 0
	if opts.Configure != nil {
		opts.Configure(cfg)
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
		if os.Getenv("AGENTGATE_TEST_LOG") != "" {
			logw = os.Stderr
		}
	}
	log := slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log, io.Discard)
	if err != nil {
		cancel()
		t.Fatalf("testserver: %v", err)
	}
	_, plain, err := a.Auth.Bootstrap(ctx, "test-admin")
	if err != nil {
		cancel()
		a.Close()
		t.Fatalf("testserver: bootstrap: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		a.Close()
		t.Fatalf("testserver: listen: %v", err)
	}
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	s := &Server{URL: scheme + "://" + ln.Addr().String(), AdminKey: plain, App: a, Config: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.Serve(ctx, ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the server down and closes its database. Safe to call twice.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.App.Close()
	s.cancel = nil
}

// CreateKey creates a key with the given scopes and returns its plaintext.
func (s *Server) CreateKey(t testing.TB, name string, scopes ...auth.Scope) string {
	t.Helper()
	_, plain, err := s.App.Auth.CreateKey(context.Background(),
		approval.Actor{ID: "test", Name: "test", Type: approval.ActorHuman}, auth.KeyInput{Name: name, Scopes: scopes})
	if err != nil {
		t.Fatalf("testserver: create key: %v", err)
	}
	return plain
}

// PostgresURL returns a URL to a fresh, empty schema on the PostgreSQL
// named by AGENTGATE_TEST_POSTGRES_URL, dropped when the test ends; it
// skips the test when the variable is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("AGENTGATE_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("AGENTGATE_TEST_POSTGRES_URL not set; PostgreSQL test skipped (CI sets it)")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("testserver: postgres: %v", err)
	}
	defer db.Close()
	schema := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), os.Getpid())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("testserver: create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testserver: AGENTGATE_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// keep the pgx stdlib driver registered for PostgresURL.
var _ = stdlib.GetDefaultDriver

// SchemaOf returns the schema a PostgresURL points at.
func SchemaOf(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(pu.Query().Get("search_path"))
}
