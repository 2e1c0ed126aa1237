package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/store/storetest"
	"github.com/agentgate/agentgate/internal/testserver"
)

func openMigrated(t testing.TB, url string, now func() time.Time) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url, store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) *store.Store {
		return openMigrated(t, filepath.Join(t.TempDir(), "test.db"), now)
	})
}

func TestPostgres(t *testing.T) {
	testserver.PostgresURL(t) // skips with a message when PostgreSQL is not configured
	storetest.Run(t, func(t *testing.T, now func() time.Time) *store.Store {
		return openMigrated(t, testserver.PostgresURL(t), now)
	})
}

func TestSQLitePath(t *testing.T) {
	tests := []struct {
		url, want, wantErr string
	}{
		{"", store.DefaultSQLitePath, ""},
		{"./x/agentgate.db", "./x/agentgate.db", ""},
		{"/var/lib/agentgate/a.db", "/var/lib/agentgate/a.db", ""},
		{"sqlite:data/a.db", "data/a.db", ""},
		{"sqlite:///abs/a.db", "/abs/a.db", ""},
		{"sqlite://rel/a.db?cache=shared", "rel/a.db", ""},
		{"file:a.db", "a.db", ""},
		{":memory:", "", "in-memory"},
		{"sqlite::memory:", "", "in-memory"},
		{"file::memory:?cache=shared", "", "in-memory"},
		{"mysql://root@localhost/db", "", "scheme is not supported"},
		{"sqlite:", "", "names no SQLite file"},
	}
	for _, tt := range tests {
		got, err := store.SQLitePath(tt.url)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SQLitePath(%q) error = %v, want it to mention %q", tt.url, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("SQLitePath(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
}

func TestOpenCreatesFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "deeper", "agentgate.db")
	s := openMigrated(t, path, time.Now)
	if s.Dialect() != store.SQLite || s.Path() != path {
		t.Fatalf("dialect %s path %s", s.Dialect(), s.Path())
	}
	if n, err := s.Migrate(context.Background()); err != nil || n != 0 {
		t.Errorf("second migrate applied %d, %v; want 0", n, err)
	}
	cur, latest, err := s.MigrationStatus(context.Background())
	if err != nil || cur != latest || cur == 0 {
		t.Errorf("migration status %d/%d, %v", cur, latest, err)
	}
}

func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s := openMigrated(t, filepath.Join(dir, "live.db"), time.Now)
	for range 20 {
		storetest.Request(t, s, nil)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			storetest.Request(t, s, nil)
		}
	}()
	out := filepath.Join(dir, "copy.db")
	if err := s.Backup(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := s.Backup(context.Background(), out); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over an existing file: %v", err)
	}
	c := openMigrated(t, out, time.Now)
	n, err := c.RequestCountByStatus(context.Background(), "pending")
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 || n > 70 {
		t.Errorf("backup holds %d requests, want between 20 and 70", n)
	}
}
