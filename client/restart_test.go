package client

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/testserver"
)

// TestWaitSurvivesRestart stops the server while an agent waits, starts a
// new one on the same database behind the same address, decides there,
// and expects the original Wait to return the decision.
func TestWaitSurvivesRestart(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "agentgate.db")
	first := testserver.Start(t, &testserver.Options{DatabaseURL: db})
	p := newProxy(t, first.URL)
	agentKey := first.CreateKey(t, "agent", auth.ScopeRequestCreate, auth.ScopeRequestRead)
	agent := mustNew(t, p.URL, agentKey, WithRetry(3, 5*time.Millisecond, 100*time.Millisecond))
	ctx := testCtx(t)
	r := mustRequest(t, agent, RequestInput{Action: "survive_restart"})

	done := make(chan error, 1)
	var got *Request
	go func() {
		var err error
		got, err = agent.Wait(ctx, r.ID)
		done <- err
	}()
	waitPath := "GET /api/requests/" + r.ID + "/wait"
	p.waitSeen(t, waitPath)

	// The server goes away mid long-poll; while it is down the proxy
	// drops every connection, as a dead address would.
	first.Stop()
	p.waitSeen(t, waitPath) // Wait keeps trying

	second := testserver.Start(t, &testserver.Options{DatabaseURL: db})
	p.setBackend(t, second.URL)
	// Decide on the new server; Wait finds the decision whether its next
	// long-poll is already there or still on its way.

	admin := mustNew(t, second.URL, second.AdminKey)
	if _, err := admin.Decide(ctx, r.ID, DecideInput{Decision: StatusApproved, Reason: "after the restart"}); err != nil {
		t.Fatalf("Decide on the new server: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait across a restart: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Wait did not return after the decision on the restarted server")
	}
	if !got.Approved() || got.ID != r.ID || got.DecisionReason != "after the restart" {
		t.Errorf("Wait = %+v, want the approval made on the new server", got)
	}
}
