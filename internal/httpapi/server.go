// Package httpapi serves the REST API: requests, decisions, policies, keys,
// audit, health and metrics. Handlers decode and validate input, call the
// domain services and encode the answer; they never touch the database.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/events"
	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/ratelimit"
	"github.com/agentgate/agentgate/internal/webhook"
)

// Config configures the Server.
type Config struct {
	// MaxBodyBytes bounds request bodies. Defaults to 1 MiB.
	MaxBodyBytes int64
	// AccessLog writes one log line per request. Defaults to off in the
	// zero value; the server command turns it on.
	AccessLog bool
	// Version is reported by /health.
	Version string
	// DefaultWait and MaxWait bound long-polls. Defaults: 30s and 60s.
	DefaultWait time.Duration
	MaxWait     time.Duration
	// Heartbeat is the interval of SSE comments that keep proxies from
	// closing idle streams. Defaults to 15s.
	Heartbeat time.Duration
	// MaxStreamsPerKey bounds concurrent long-polls and streams per key;
	// zero means unlimited. Defaults to unlimited in the zero value.
	MaxStreamsPerKey int
	// NoParkedWaits serves every long-poll on its own connection
	// goroutine instead of parking it (see park.go); for tests.
	NoParkedWaits bool

	// AdminRateLimit limits the ADMIN_API_KEY principal, in requests per
	// minute. Zero: unlimited.
	AdminRateLimit int
	// AuthFailureLimit bounds failed authentications per client address
	// per minute; beyond it the address gets 429. Zero: no bound.
	AuthFailureLimit int
	// TrustedProxies are the peers whose X-Forwarded-For (and
	// X-Forwarded-Proto) are believed. Empty: the peer is the client.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the exact, lower-case origins allowed to call the
	// API from a browser. Empty: no cross-origin access.
	CORSOrigins []string
}

// Deps are the services the API calls.
type Deps struct {
	Approvals *approval.Service
	Auth      *auth.Service
	Metrics   *metrics.Metrics // optional
	Hub       *events.Hub      // live events for SSE; nil disables /api/events
	Webhooks  *webhook.Service // nil disables /api/webhooks
	Logger    *slog.Logger
	// Limiter counts per-key and per-address limits; nil means a new
	// in-memory limiter (per process).
	Limiter ratelimit.Limiter
}

// Server is the API's http.Handler.
type Server struct {
	approvals *approval.Service
	auth      *auth.Service
	metrics   *metrics.Metrics
	log       *slog.Logger
	accessLog bool
	maxBody   int64
	version   string
	cfg       Config
	hub       *events.Hub
	webhooks  *webhook.Service

	limiter    ratelimit.Limiter
	authBlocks *addrBlocks // addresses refused after repeated failed authentications

	streamsMu sync.Mutex
	streams   map[string]int // live long-polls and streams per key id

	mux     *http.ServeMux
	routes  []Route
	handler http.Handler

	draining atomic.Bool
	parked   parkedWaits
}

// New returns the API server with every route registered.
func New(cfg Config, deps Deps) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = MaxBodyBytes
	}
	if cfg.DefaultWait <= 0 {
		cfg.DefaultWait = 30 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 60 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Limiter == nil {
		deps.Limiter = ratelimit.NewMemory(nil)
	}
	s := &Server{
		approvals: deps.Approvals,
		auth:      deps.Auth,
		metrics:   deps.Metrics,
		log:       deps.Logger,
		accessLog: cfg.AccessLog,
		maxBody:   cfg.MaxBodyBytes,
		version:   cfg.Version,
		cfg:       cfg,
		hub:       deps.Hub,
		webhooks:  deps.Webhooks,
		streams:   map[string]int{},
		mux:       http.NewServeMux(),

		limiter:    deps.Limiter,
		authBlocks: newAddrBlocks(10_000),
	}
	for _, rt := range s.apiRoutes() {
		s.Handle(rt)
	}
	s.handler = s.observe(s.secure(http.HandlerFunc(s.serveMux)))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// SetDraining makes /ready answer 503 so load balancers stop sending
// traffic while the server shuts down.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Routes returns every registered route, for documentation and for the
// authorization test that walks all of them.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// serveMux dispatches to the mux, answering unknown API routes and wrong
// methods with JSON instead of the mux's plain text.
func (s *Server) serveMux(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		if allow := s.allowedMethods(r); len(allow) > 0 {
			w.Header().Set("Allow", joinComma(allow))
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "Method " + r.Method + " not allowed on " + r.URL.Path})
			return
		}
		writeJSON(w, http.StatusNotFound, errorBody{Error: "Route " + r.Method + " " + r.URL.Path + " not found"})
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}
