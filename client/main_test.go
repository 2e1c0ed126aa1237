package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
)

// The examples run against a real server on a temporary SQLite file,
// started once for the test binary. These are set before the examples
// run and never changed after.
var (
	serverURL   string // the server's base URL
	agentKey    string // request:create, request:read
	approverKey string // request:decide, request:read
	adminKey    string // admin
)

func TestMain(m *testing.M) {
	code, err := runWithServer(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "example server:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithServer(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "agentgate-examples-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Load()
	if err != nil {
		return 0, err
	}
	cfg.DatabaseURL = filepath.Join(dir, "agentgate.db")
	cfg.Host, cfg.Port, cfg.AccessLog = "127.0.0.1", 0, false
	cfg.ShutdownTimeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		return 0, err
	}
	defer a.Close()
	if _, adminKey, err = a.Auth.Bootstrap(ctx, "admin"); err != nil {
		return 0, err
	}
	by := approval.Actor{ID: "examples", Name: "examples", Type: approval.ActorHuman}
	if _, agentKey, err = a.Auth.CreateKey(ctx, by, auth.KeyInput{Name: "agent", Scopes: []auth.Scope{auth.ScopeRequestCreate, auth.ScopeRequestRead}}); err != nil {
		return 0, err
	}
	if _, approverKey, err = a.Auth.CreateKey(ctx, by, auth.KeyInput{Name: "approver", Scopes: []auth.Scope{auth.ScopeRequestDecide, auth.ScopeRequestRead}}); err != nil {
		return 0, err
	}
	reviewerKey, err := func() (string, error) {
		_, k, err := a.Auth.CreateKey(ctx, by, auth.KeyInput{Name: "reviewer", Scopes: []auth.Scope{auth.ScopeRequestDecide, auth.ScopeRequestRead}})
		return k, err
	}()
	if err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	serverURL = "http://" + ln.Addr().String()
	if err := startReviewer(ctx, reviewerKey); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// startReviewer simulates the person on the other side: it approves
// send_email and denies delete_database as soon as they are asked, and
// returns once it is listening.
func startReviewer(ctx context.Context, key string) error {
	connected := make(chan struct{})
	hc := &http.Client{Transport: &signalOnStream{next: http.DefaultTransport, connected: connected}}
	c, err := client.New(serverURL, key, client.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	go func() {
		opts := client.EventsOptions{Status: []client.Status{client.StatusPending}, Action: []string{"send_email", "delete_database"}}
		for ev, err := range c.Events(ctx, opts) {
			if err != nil {
				return
			}
			d := client.DecideInput{Decision: client.StatusApproved, Reason: "fine"}
			if ev.Request.Action == "delete_database" {
				d = client.DecideInput{Decision: client.StatusDenied, Reason: "never in production"}
			}
			if _, err := c.Decide(ctx, ev.Request.ID, d); err != nil && !errors.Is(err, client.ErrConflict) {
				fmt.Fprintln(os.Stderr, "reviewer:", err)
			}
		}
	}()
	select {
	case <-connected:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("the reviewer's event stream did not connect")
	}
}

// signalOnStream closes connected when the event stream's answer arrives.
type signalOnStream struct {
	next      http.RoundTripper
	connected chan struct{}
	once      sync.Once
}

func (s *signalOnStream) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
	if err == nil && r.URL.Path == "/api/events" && resp.StatusCode == http.StatusOK {
		s.once.Do(func() { close(s.connected) })
	}
	return resp, err
}
