package auth_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type sessionBundle struct {
	st       *store.Store
	keys     *auth.Service
	sessions *auth.Sessions
	clock    *clock
	token    string // the last session signed in
}

func setupSessions(t *testing.T, adminKey string) *sessionBundle {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewService(st, auth.Config{AdminKey: adminKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &sessionBundle{st: st, keys: keys, clock: c,
		sessions: auth.NewSessions(st, keys, auth.SessionConfig{TTL: 12 * time.Hour, Now: c.now})}
}

var tester = approval.Actor{ID: "test", Name: "test", Type: approval.ActorHuman}

func TestSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		scopes  []auth.Scope
		signErr approval.Code
		// after runs between sign-in and the check; wantErr is the check's
		// error code ("" for a valid session).
		after   func(t *testing.T, b *sessionBundle, k *auth.Key)
		wantErr approval.Code
	}{
		{name: "valid", scopes: []auth.Scope{auth.ScopeRequestDecide}},
		{name: "admin implies decide", scopes: []auth.Scope{auth.ScopeAdmin}},
		{name: "lacks the scope", scopes: []auth.Scope{auth.ScopeRequestCreate, auth.ScopeRequestRead}, signErr: approval.CodeForbidden},
		{name: "just before expiry", scopes: []auth.Scope{auth.ScopeRequestDecide},
			after: func(_ *testing.T, b *sessionBundle, _ *auth.Key) { b.clock.add(12*time.Hour - time.Second) }},
		{name: "expired (absolute, however busy)", scopes: []auth.Scope{auth.ScopeRequestDecide},
			after: func(t *testing.T, b *sessionBundle, _ *auth.Key) {
				// Use every hour: the expiry does not slide.
				for range 12 {
					b.clock.add(time.Hour)
					_, _, _ = b.sessions.Resolve(ctx, b.token)
				}
			}, wantErr: approval.CodeUnauthenticated},
		{name: "key revoked", scopes: []auth.Scope{auth.ScopeRequestDecide},
			after: func(t *testing.T, b *sessionBundle, k *auth.Key) {
				if err := b.keys.RevokeKey(ctx, tester, k.ID); err != nil {
					t.Fatal(err)
				}
			}, wantErr: approval.CodeUnauthenticated},
		{name: "scope removed", scopes: []auth.Scope{auth.ScopeRequestDecide, auth.ScopeRequestRead},
			after: func(t *testing.T, b *sessionBundle, k *auth.Key) {
				s := []auth.Scope{auth.ScopeRequestRead}
				if _, err := b.keys.UpdateKey(ctx, tester, k.ID, auth.KeyPatch{Scopes: &s}); err != nil {
					t.Fatal(err)
				}
			}, wantErr: approval.CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupSessions(t, "")
			k, plain, err := b.keys.CreateKey(ctx, tester, auth.KeyInput{Name: "alice", Scopes: tt.scopes})
			if err != nil {
				t.Fatal(err)
			}
			token, sess, p, err := b.sessions.SignIn(ctx, plain, "Mozilla/5.0")
			b.token = token
			if approval.ErrorCode(err) != tt.signErr && (err != nil || tt.signErr != "") {
				t.Fatalf("sign in: %v, want code %q", err, tt.signErr)
			}
			if tt.signErr != "" {
				return
			}
			if p.Name != "alice" || p.Via != "session" || !sess.ExpiresAt.Equal(b.clock.now().Add(12*time.Hour)) || token == plain {
				t.Fatalf("session %+v principal %+v", sess, p)
			}
			if tt.after != nil {
				tt.after(t, b, k)
			}
			p, _, err = b.sessions.Resolve(ctx, token)
			if tt.wantErr == "" {
				if err != nil || p.KeyID != k.ID {
					t.Fatalf("resolve: %v %+v", err, p)
				}
				return
			}
			if approval.ErrorCode(err) != tt.wantErr {
				t.Fatalf("resolve: %v, want code %s", err, tt.wantErr)
			}
		})
	}
}

func TestSessionSignOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupSessions(t, "")
	_, plain, err := b.keys.CreateKey(ctx, tester, auth.KeyInput{Name: "bob", Scopes: []auth.Scope{auth.ScopeRequestDecide}})
	if err != nil {
		t.Fatal(err)
	}
	token, _, p, err := b.sessions.SignIn(ctx, plain, "")
	if err != nil {
		t.Fatal(err)
	}
	other, _, _, err := b.sessions.SignIn(ctx, plain, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.sessions.SignOut(ctx, p, token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.sessions.Resolve(ctx, token); err == nil {
		t.Fatal("the signed-out session still resolves")
	}
	if _, _, err := b.sessions.Resolve(ctx, other); err != nil {
		t.Fatalf("signing out ended another session of the key: %v", err)
	}
	if err := b.sessions.SignOut(ctx, p, token); err != nil {
		t.Fatalf("signing out twice: %v", err)
	}
	events, _, err := b.st.AuditList(ctx, approval.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.EventType)
	}
	want := []string{auth.EventSessionDeleted, auth.EventSessionCreated, auth.EventSessionCreated, approval.EventKeyCreated}
	if len(types) != len(want) {
		t.Fatalf("audit %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("audit %v, want %v", types, want)
		}
	}
}

// TestSessionAdminEnvKey: a session of the ADMIN_API_KEY credential lasts
// only while that variable keeps its value.
func TestSessionAdminEnvKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const adminKey = "correct-horse-battery-staple"
	b := setupSessions(t, adminKey)
	token, _, p, err := b.sessions.SignIn(ctx, adminKey, "")
	if err != nil || p.KeyID != auth.AdminEnvKeyID {
		t.Fatalf("sign in: %v %+v", err, p)
	}
	if _, _, err := b.sessions.Resolve(ctx, token); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	rotated, err := auth.NewService(b.st, auth.Config{AdminKey: "another-admin-key-0123"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2 := auth.NewSessions(b.st, rotated, auth.SessionConfig{Now: b.clock.now})
	if _, _, err := s2.Resolve(ctx, token); approval.ErrorCode(err) != approval.CodeUnauthenticated {
		t.Fatalf("after ADMIN_API_KEY changed: %v, want the session ended", err)
	}
	unset, err := auth.NewService(b.st, auth.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.NewSessions(b.st, unset, auth.SessionConfig{Now: b.clock.now}).Resolve(ctx, token); err == nil {
		t.Fatal("after ADMIN_API_KEY was unset the session still resolves")
	}
}

func TestSessionUnknownTokens(t *testing.T) {
	t.Parallel()
	b := setupSessions(t, "")
	for _, tok := range []string{"", "x", "agk_notatoken", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, _, err := b.sessions.Resolve(context.Background(), tok); approval.ErrorCode(err) != approval.CodeUnauthenticated {
			t.Errorf("token %q: %v, want unauthenticated", tok, err)
		}
	}
}
