package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/dashboard"
	"github.com/agentgate/agentgate/internal/events"
	"github.com/agentgate/agentgate/internal/store"
)

// muxMounter mounts the dashboard on a plain ServeMux.
type muxMounter struct{ *http.ServeMux }

func (m muxMounter) Mount(pattern string, h http.Handler) { m.Handle(pattern, h) }

// BenchmarkQueuePage renders the queue with 10,000 pending requests in a
// SQLite store, through the real handler (session lookup included). The
// queue renders its first page (100 cards) and links to the rest, so the
// time does not grow with the queue.
//
//	go test ./internal/dashboard -run '^$' -bench BenchmarkQueuePage -benchtime 200x
func BenchmarkQueuePage(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const pending = 10_000
	now := time.Now().UTC()
	urgencies := []approval.Urgency{approval.UrgencyLow, approval.UrgencyNormal, approval.UrgencyHigh, approval.UrgencyCritical}
	for batch := 0; batch < pending; batch += 1000 {
		err := st.WithTx(ctx, func(tx approval.Tx) error {
			for i := batch; i < batch+1000; i++ {
				at := now.Add(-time.Duration(pending-i) * time.Second)
				r := &approval.Request{
					ID: approval.NewID("req_"), Action: fmt.Sprintf("action_%d", i%40), Urgency: urgencies[i%4], Status: approval.StatusPending,
					Params:  []byte(fmt.Sprintf(`{"to":"user%d@example.com","subject":"Invoice %d","amount":%d,"currency":"EUR","notes":"%s"}`, i, i, i*7, strings.Repeat("n", 200))),
					Context: []byte(`{"reason":"monthly billing run"}`), CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(24 * time.Hour),
					PolicyDecision: approval.PolicyDecision{Decision: "route_to_human", Reason: "no policy matched; routed to a human"},
					AgentID:        "key_agent", AgentName: "billing-agent",
				}
				if err := tx.RequestInsert(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	keys, err := auth.NewService(st, auth.Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	approvals := approval.NewService(st, approval.Config{}, approval.Options{})
	sessions := auth.NewSessions(st, keys, auth.SessionConfig{})
	d, err := dashboard.New(dashboard.Config{}, dashboard.Deps{Approvals: approvals, Keys: keys, Sessions: sessions, Hub: events.NewHub()})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	d.Register(muxMounter{mux})
	_, plain, err := keys.CreateKey(ctx, approval.Actor{ID: "bench", Name: "bench"}, auth.KeyInput{Name: "alice", Scopes: []auth.Scope{auth.ScopeRequestDecide}})
	if err != nil {
		b.Fatal(err)
	}
	token, _, _, err := sessions.SignIn(ctx, plain, "bench")
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "agentgate_session", Value: token})
	check := httptest.NewRecorder()
	mux.ServeHTTP(check, req)
	if check.Code != 200 || !strings.Contains(check.Body.String(), "Showing 1–100 of 10,000") {
		b.Fatalf("queue page: %d %.300s", check.Code, check.Body.String())
	}
	for b.Loop() {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
	b.ReportMetric(float64(check.Body.Len()), "html-bytes/page")
}
