// Package app wires configuration, storage, services and transports into a
// running server. cmd/agentgate calls Run; tests call New and Serve.
package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/channels"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/dashboard"
	"github.com/agentgate/agentgate/internal/events"
	"github.com/agentgate/agentgate/internal/httpapi"
	"github.com/agentgate/agentgate/internal/jobs"
	"github.com/agentgate/agentgate/internal/mcp"
	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/ratelimit"
	"github.com/agentgate/agentgate/internal/store"
	"github.com/agentgate/agentgate/internal/webhook"
)

// Version is set at build time with -ldflags "-X github.com/agentgate/agentgate/internal/app.Version=v1.2.3".
var Version = "dev"

// App is a configured server.
type App struct {
	Config    *config.Config
	Log       *slog.Logger
	Store     *store.Store
	Approvals *approval.Service
	Auth      *auth.Service
	Metrics   *metrics.Metrics
	Hub       *events.Hub
	Jobs      *jobs.Runner
	API       *httpapi.Server
	Limiter   ratelimit.Limiter
	Sessions  *auth.Sessions
	Dashboard *dashboard.Dashboard
	Webhooks  *webhook.Service
	Channels  *channels.Service

	pgBus         *events.Postgres
	channelRoutes *channelRoutes
	out           io.Writer // where the first admin key is printed

	redis *redis.Client // the rate limiter's, when REDIS_URL is set
	tls   *tls.Config   // when AGENTGATE_TLS_CERT is set
}

// NewLogger returns the JSON (or text) logger the config asks for.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// OpenStore opens the database named by the config and applies the
// migrations, AgentGate's and River's.
func OpenStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{
		MaxConns:          cfg.DBMaxConns,
		SQLiteSynchronous: cfg.SQLiteSync,
		Logger:            log,
	})
	if err != nil {
		return nil, err
	}
	n, err := st.Migrate(ctx)
	if err == nil {
		err = jobs.Migrate(ctx, st)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	if n > 0 {
		log.Info("database migrated", "applied", n, "dialect", st.Dialect())
	}
	return st, nil
}

// processID identifies this process on the event bus.
func processID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return host + "-" + hex.EncodeToString(b)
}

// New builds the server: it opens and migrates the database and wires the
// services. out receives the one-time first admin key banner.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) (*App, error) {
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, Store: st, out: out, Hub: events.NewHub()}
	a.Auth, err = auth.NewService(st, auth.Config{AdminKey: cfg.AdminAPIKey, DefaultRateLimit: cfg.DefaultRateLimit}, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	opts := approval.Options{Logger: log, Watcher: a.Hub}
	if cfg.Metrics {
		// The pending gauge asks the service, which is built just below.
		a.Metrics = metrics.New(func(ctx context.Context) (int64, error) { return a.Approvals.CountPending(ctx) })
		opts.Observer = a.Metrics
	}
	if st.Dialect() == store.Postgres {
		a.pgBus = events.NewPostgres(a.Hub, st.Pool(), processID(), log)
		a.pgBus.OnKeysChanged(a.Auth.InvalidateKeys)
		opts.Publisher = a.pgBus
		opts.Hooks = append(opts.Hooks, a.pgBus)
	} else {
		opts.Publisher = events.NewLocal(a.Hub)
	}
	// Webhooks: the service enqueues one batch job per webhook when the
	// sealer hands it committed audit events (the audit trail is the
	// outbox) and owns the batch and retry workers.
	if a.Webhooks, err = newWebhooks(cfg, st, log); err != nil {
		st.Close()
		return nil, err
	}
	a.Approvals = approval.NewService(st, approval.Config{DefaultTimeout: cfg.DefaultTimeout, MaxParamsKeys: cfg.MaxParamsKeys}, opts)

	if cfg.PolicyFile != "" {
		if err := a.loadPolicyFile(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}

	workers := river.NewWorkers()
	// Sweep jobs queued by versions that swept through River still complete.
	river.AddWorker(workers, &jobs.ExpireWorker{Approvals: a.Approvals})
	river.AddWorker(workers, &jobs.EscalateWorker{Approvals: a.Approvals})
	a.Webhooks.AddWorkers(workers)
	if err := a.newChannels(); err != nil {
		st.Close()
		return nil, err
	}
	a.Channels.AddWorkers(workers)
	a.Jobs, err = jobs.New(st, jobs.Options{
		Workers:    workers,
		MaxWorkers: cfg.JobWorkers,
		Queues:     map[string]int{webhook.QueueName: cfg.WebhookWorkers, channels.QueueName: cfg.NotifyWorkers},
		Logger:     log,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	a.Approvals.AddHook(jobs.EscalationScheduler{Runner: a.Jobs})
	a.Webhooks.SetQueue(a.Jobs)
	a.Approvals.AddSealHook(a.Webhooks)
	a.Channels.SetQueue(a.Jobs)
	a.Approvals.AddSealHook(a.Channels)
	if n, err := a.Webhooks.EncryptPlaintextSecrets(ctx); err != nil {
		st.Close()
		return nil, err
	} else if n > 0 {
		log.Info("encrypted webhook secrets stored before AGENTGATE_ENCRYPTION_KEY was set", "count", n)
	}
	// Rate limits and hardening (see SECURITY.md).
	if a.tls, err = loadTLS(cfg); err == nil {
		a.Limiter, a.redis, err = newLimiter(cfg, log, a.Metrics)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	proxies, _ := config.ParseTrustedProxies(cfg.TrustedProxies) // validated by config.Load
	origins, _ := config.ParseOrigins(cfg.CORSOrigins)
	a.API = httpapi.New(httpapi.Config{
		MaxBodyBytes:     cfg.MaxBodyBytes,
		AccessLog:        cfg.AccessLog,
		Version:          Version,
		MaxWait:          cfg.MaxWait,
		MaxStreamsPerKey: cfg.MaxStreams,
		NoParkedWaits:    !cfg.ParkLongPolls,
		AdminRateLimit:   cfg.AdminRateLimit,
		AuthFailureLimit: cfg.AuthFailureLimit,
		TrustedProxies:   proxies,
		CORSOrigins:      origins,
	}, httpapi.Deps{Approvals: a.Approvals, Auth: a.Auth, Metrics: a.Metrics, Hub: a.Hub, Webhooks: a.Webhooks, Logger: log, Limiter: a.Limiter})
	// MCP: the approval tools over streamable HTTP at /mcp.
	for _, rt := range mcp.Routes(a.Approvals, mcp.HTTPOptions{MaxBodyBytes: cfg.MaxBodyBytes, Version: Version, Logger: log}) {
		a.API.Handle(rt)
	}
	a.mountChannels()
	if err := a.mountDashboard(); err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

// mountDashboard serves the web console on the API's port: sessions in
// the database (so they work on every replica), pages on the API's mux.
func (a *App) mountDashboard() error {
	cfg := a.Config
	a.Sessions = auth.NewSessions(a.Store, a.Auth, auth.SessionConfig{TTL: cfg.SessionTTL})
	dcfg := dashboard.Config{SecureCookies: cfg.SecureCookies()}
	if cfg.BaseURL != "" {
		if u, err := url.Parse(cfg.BaseURL); err == nil {
			dcfg.TrustedOrigins = append(dcfg.TrustedOrigins, u.Scheme+"://"+u.Host)
		}
	}
	d, err := dashboard.New(dcfg, dashboard.Deps{
		Approvals: a.Approvals, Keys: a.Auth, Sessions: a.Sessions, Hub: a.Hub, Webhooks: a.Webhooks, Logger: a.Log,
	})
	if err != nil {
		return err
	}
	a.Dashboard = d
	d.Register(a.API)
	return nil
}

// loadPolicyFile makes the stored file policies match AGENTGATE_POLICY_FILE.
// A file with any error stops the start: running with half a policy set
// would be worse than not running.
func (a *App) loadPolicyFile(ctx context.Context) error {
	data, err := os.ReadFile(a.Config.PolicyFile)
	if err != nil {
		return fmt.Errorf("AGENTGATE_POLICY_FILE: %w", err)
	}
	doc, err := policy.ParseDocument(a.Config.PolicyFile, data)
	if err != nil {
		return fmt.Errorf("AGENTGATE_POLICY_FILE %s: %w", a.Config.PolicyFile, err)
	}
	ps := doc.Policies
	if err := a.Approvals.SyncFileGroups(ctx, doc.Groups); err != nil {
		return fmt.Errorf("AGENTGATE_POLICY_FILE %s: %w", a.Config.PolicyFile, err)
	}
	res, err := a.Approvals.SyncFilePolicies(ctx, ps)
	if err != nil {
		return fmt.Errorf("AGENTGATE_POLICY_FILE %s: %w", a.Config.PolicyFile, err)
	}
	a.Log.Info("policy file loaded", "file", a.Config.PolicyFile, "policies", len(ps),
		"added", res.Added, "updated", res.Updated, "removed", res.Removed, "unchanged", res.Unchanged)
	return nil
}

// newWebhooks builds the webhook service from the configuration.
func newWebhooks(cfg *config.Config, st *store.Store, log *slog.Logger) (*webhook.Service, error) {
	var key []byte
	if cfg.EncryptionKey != "" {
		var err error
		if key, err = config.ParseKey(cfg.EncryptionKey); err != nil {
			return nil, err
		}
	}
	if cfg.WebhookAllowPrivate {
		log.Warn("AGENTGATE_WEBHOOK_ALLOW_PRIVATE is on: webhooks may target loopback and private-network addresses " +
			"(cloud metadata stays refused). This is for development and tests only; never enable it in production.")
	}
	if key == nil {
		log.Info("AGENTGATE_ENCRYPTION_KEY is not set: webhook secrets are stored unencrypted")
	}
	return webhook.NewService(st, webhook.Config{
		MaxAttempts:   cfg.WebhookMaxAttempts,
		Timeout:       cfg.WebhookTimeout,
		RetryBase:     cfg.WebhookRetryBase,
		Concurrency:   cfg.WebhookWorkers,
		AllowPrivate:  cfg.WebhookAllowPrivate,
		EncryptionKey: key,
		Version:       Version,
	}, webhook.Options{Logger: log})
}

// Close releases the database (and the rate limiter's Redis client).
func (a *App) Close() error {
	if a.redis != nil {
		_ = a.redis.Close()
	}
	return a.Store.Close()
}

// ensureFirstKey prints a new admin key on the first start of an empty
// database when no ADMIN_API_KEY is set.
func (a *App) ensureFirstKey(ctx context.Context) error {
	if a.Config.AdminAPIKey != "" {
		return nil
	}
	key, err := a.Auth.EnsureFirstKey(ctx)
	if err != nil || key == "" {
		return err
	}
	line := strings.Repeat("=", 72)
	fmt.Fprintf(a.out, "\n%s\n  AgentGate created an admin API key for this new database.\n  It is shown ONCE and never again - save it now:\n\n    %s\n\n  export AGENTGATE_API_KEY=%s\n%s\n\n", line, key, key, line)
	a.Log.Info("first start: created an admin API key and printed it to standard output once")
	return nil
}

// Serve listens on ln and serves until ctx is cancelled, then shuts down
// gracefully: /ready turns 503, in-flight requests finish within the
// shutdown timeout, background jobs stop, and the caller closes the store.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if err := a.ensureFirstKey(ctx); err != nil {
		return fmt.Errorf("create first admin key: %w", err)
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if a.pgBus != nil {
		wg.Go(func() { _ = a.pgBus.Run(bg) })
	}
	// The sealer adds committed audit events to the hash chain and runs
	// the outbox hooks (webhook fan-out) on them.
	wg.Go(func() { a.Approvals.RunSealer(bg, a.Config.AuditSealInterval, 20*time.Millisecond) })
	// Expiries end within an interval, those that passed while no server
	// ran at once; every replica sweeps (see RunExpirySweeper).
	wg.Go(func() { a.Approvals.RunExpirySweeper(bg, a.Config.ExpirySweep) })
	if err := a.Jobs.Start(bg); err != nil {
		stopBG()
		return fmt.Errorf("start background jobs: %w", err)
	}
	srv := &http.Server{
		Handler:           a.API,
		ReadHeaderTimeout: a.Config.ReadHeaderTO,
		ReadTimeout:       a.Config.ReadTimeout,
		WriteTimeout:      a.Config.WriteTimeout,
		IdleTimeout:       a.Config.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return bg },
		TLSConfig:         a.tls,
	}
	if a.Config.DebugAddr != "" {
		stopDebug, err := serveDebug(bg, a.Config.DebugAddr, a.Log)
		if err != nil {
			stopBG()
			return err
		}
		defer stopDebug()
	}
	errc := make(chan error, 1)
	if a.tls != nil {
		go func() { errc <- srv.ServeTLS(ln, "", "") }() // the certificate is in TLSConfig
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	a.Log.Info("AgentGate is listening", "addr", ln.Addr().String(), "url", a.Config.PublicURL(),
		"database", a.Store.Dialect(), "version", Version)
	var serveErr error
	served := false
	select {
	case serveErr = <-errc:
		served = true
	case <-ctx.Done():
	}
	a.Log.Info("shutting down", "timeout", a.Config.ShutdownTimeout.String())
	a.API.SetDraining()
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	// Parked long-polls are no longer net/http's: answer them first (with
	// the pending request, as ordinary long-polls are answered below).
	a.API.CloseParked(sctx)
	// Long-polls and streams hold connections open: ending the base
	// context releases them so Shutdown does not wait out their timeouts.
	srv.RegisterOnShutdown(stopBG)
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		a.Log.Warn("in-flight requests did not finish before the shutdown timeout; closing them")
		err = srv.Close()
	}
	if jerr := a.Jobs.Stop(sctx); jerr != nil {
		a.Log.Warn("background jobs did not stop cleanly", "err", jerr)
	}
	stopBG()
	wg.Wait()
	if !served {
		serveErr = <-errc
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return err
}

// Run is `agentgate server`: build, listen on the configured address,
// serve until ctx ends, close.
func Run(ctx context.Context, cfg *config.Config, out io.Writer) error {
	start := time.Now()
	log := NewLogger(cfg, os.Stderr)
	a, err := New(ctx, cfg, log, out)
	if err != nil {
		return err
	}
	defer func() {
		if err := a.Close(); err != nil {
			log.Error("close database", "err", err)
		}
	}()
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
	}
	log.Info("started", "startup_ms", time.Since(start).Milliseconds())
	return a.Serve(ctx, ln)
}
