// Package dashboard is the web console people approve and deny from:
// html/template pages and a small script and stylesheet, all embedded in
// the binary and served by `agentgate server` on the API's port.
//
// # Sign-in and sessions
//
// A person signs in with an API key that grants request:decide (or
// admin). The key is exchanged for a session (auth.Sessions): the browser
// holds an opaque token in an HttpOnly, SameSite=Lax cookie and never the
// key. Every request re-reads the session and its key, so revoking a key
// ends its sessions at once on every replica.
//
// # Safety
//
// Every state change is a POST wrapped in http.CrossOriginProtection.
// Pages carry a strict Content-Security-Policy with no inline script or
// style; what agents supplied is escaped by html/template, and the script
// writes data with textContent only.
//
// # Live updates
//
// Pages subscribe to /ui/events, a dashboard-local Server-Sent Events
// stream authenticated by the session cookie. It reuses the API's
// httpapi.EventStream (hub, Last-Event-ID replay) but sends the queue's
// card view and the pending count. The REST API keeps accepting bearer
// keys only, so no cookie ever authenticates an API call.
package dashboard

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/events"
	"github.com/agentgate/agentgate/internal/webhook"
)

// Config configures the dashboard.
type Config struct {
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// requests (AGENTGATE_BASE_URL is https, behind a TLS proxy). Requests
	// that arrive over TLS always get Secure cookies.
	SecureCookies bool
	// TrustedOrigins are origins (scheme://host[:port]) whose form posts
	// are accepted besides the server's own, e.g. the public URL.
	TrustedOrigins []string
	// Heartbeat is the live stream's keep-alive interval, at which the
	// session is also re-checked. Defaults to 15s.
	Heartbeat time.Duration
	// SignInLimit is how many sign-in attempts one client address may make
	// per minute. Defaults to 10.
	SignInLimit int
}

// Deps are the services the dashboard calls.
type Deps struct {
	Approvals *approval.Service
	Keys      *auth.Service
	Sessions  *auth.Sessions
	Hub       *events.Hub      // nil disables live updates
	Webhooks  *webhook.Service // nil hides the webhooks pages
	// Limiter limits sign-in attempts per client address; nil means an
	// in-memory limiter of Config.SignInLimit per minute.
	Limiter Limiter
	Logger  *slog.Logger
	// Now is the clock pages are rendered with. Defaults to time.Now.
	Now func() time.Time
}

// Dashboard serves the web console. Create it with New and mount it with
// Register.
type Dashboard struct {
	cfg       Config
	approvals *approval.Service
	keys      *auth.Service
	sessions  *auth.Sessions
	hub       *events.Hub
	webhooks  *webhook.Service
	limiter   Limiter
	log       *slog.Logger
	now       func() time.Time

	// ui parses the templates and fingerprints the static files on first
	// use: a server nobody opens the dashboard on keeps neither (~2.5 MB
	// of heap, and the start-up time they took).
	ui      func() (*ui, error)
	cop     *http.CrossOriginProtection
	pending *pendingCounter
}

// New returns the dashboard. It parses every template and fingerprints
// the static files, so a broken template fails here, at start.
func New(cfg Config, deps Deps) (*Dashboard, error) {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.SignInLimit <= 0 {
		cfg.SignInLimit = 10
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Limiter == nil {
		deps.Limiter = NewMemoryLimiter(cfg.SignInLimit, time.Minute, deps.Now)
	}
	d := &Dashboard{
		cfg:       cfg,
		approvals: deps.Approvals,
		keys:      deps.Keys,
		sessions:  deps.Sessions,
		hub:       deps.Hub,
		webhooks:  deps.Webhooks,
		limiter:   deps.Limiter,
		log:       deps.Logger,
		now:       deps.Now,
		ui:        sync.OnceValues(loadUI),
		cop:       http.NewCrossOriginProtection(),
	}
	d.pending = newPendingCounter(d.approvals.CountPending)
	for _, o := range cfg.TrustedOrigins {
		if err := d.cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	d.cop.SetDenyHandler(http.HandlerFunc(d.crossOriginDenied))
	return d, nil
}

// Mounter is where the dashboard's routes go: httpapi.Server.
type Mounter interface {
	Mount(pattern string, h http.Handler)
}

// Register mounts every dashboard route on m.
func (d *Dashboard) Register(m Mounter) {
	for _, rt := range d.routes() {
		m.Mount(rt.pattern, rt.handler)
	}
}

type route struct {
	pattern string
	handler http.Handler
}

// routes is the dashboard's route table. Pages name the scope they need;
// the navigation hides what a session may not open, and the server
// refuses it regardless.
func (d *Dashboard) routes() []route {
	decide := auth.ScopeRequestDecide
	read := auth.ScopeRequestRead
	admin := auth.ScopeAdmin
	hooks := auth.ScopeWebhookManage
	var rts []route
	if d.webhooks != nil {
		rts = append(rts,
			route{"GET /webhooks", d.page(hooks, d.webhooksPage)},
			route{"POST /webhooks", d.page(hooks, d.createWebhook)},
			route{"GET /webhooks/{id}", d.page(hooks, d.webhook)},
			route{"POST /webhooks/{id}/toggle", d.page(hooks, d.toggleWebhook)},
			route{"POST /webhooks/{id}/test", d.page(hooks, d.testWebhook)},
			route{"POST /webhooks/{id}/delete", d.page(hooks, d.deleteWebhook)},
			route{"POST /webhooks/{id}/deliveries/{did}/replay", d.page(hooks, d.replayDelivery)},
		)
	}
	return append(rts, []route{
		{"GET /static/{hash}/{file}", http.HandlerFunc(d.serveStatic)},
		{"GET /signin", d.public(d.signInPage)},
		{"POST /signin", d.public(d.signIn)},
		{"POST /signout", d.page(decide, d.signOut)},
		{"GET /ui/events", d.page(decide, d.events)},

		{"GET /{$}", d.page(decide, d.queue)},
		{"GET /requests/{id}", d.page(decide, d.request)},
		{"POST /requests/{id}/decide", d.page(decide, d.decide)},
		{"POST /requests/batch", d.page(decide, d.decideBatch)},
		{"GET /grants", d.page(read, d.grants)},
		{"POST /grants/{id}/revoke", d.page(decide, d.revokeGrant)},
		{"GET /history", d.page(read, d.history)},
		{"GET /audit", d.page(read, d.audit)},

		{"GET /policies", d.page(admin, d.policies)},
		{"GET /policies/new", d.page(admin, d.newPolicy)},
		{"POST /policies", d.page(admin, d.createPolicy)},
		{"POST /policies/dry-run", d.page(admin, d.dryRunAll)},
		{"POST /policies/simulate", d.page(admin, d.simulate)},
		{"GET /policies/{id}", d.page(admin, d.editPolicy)},
		{"POST /policies/{id}", d.page(admin, d.savePolicy)},
		{"POST /policies/{id}/toggle", d.page(admin, d.togglePolicy)},
		{"POST /policies/{id}/delete", d.page(admin, d.deletePolicy)},
		{"POST /policies/{id}/dry-run", d.page(admin, d.dryRunPolicy)},
		{"POST /groups", d.page(admin, d.saveGroup)},
		{"POST /groups/{name}/delete", d.page(admin, d.deleteGroup)},

		{"GET /keys", d.page(admin, d.keysPage)},
		{"POST /keys", d.page(admin, d.createKey)},
		{"POST /keys/{id}/revoke", d.page(admin, d.revokeKey)},
	}...)
}
