package httpapi

import (
	"errors"
	"net/http"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
)

// HandlerFunc is a handler that returns its error; Handle's wrapper
// renders it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ScopeAny marks a route open to any valid credential.
const ScopeAny auth.Scope = "*"

// ScopePublic marks a route that needs no credential.
const ScopePublic auth.Scope = ""

// Route is one entry of the route table.
type Route struct {
	Method  string
	Pattern string
	// Scope is what the caller's key must grant: ScopePublic, ScopeAny or
	// an auth scope (admin implies all).
	Scope auth.Scope
	// Streaming marks long-polls and event streams.
	Streaming bool
	Handler   HandlerFunc
	// AddressLimit, when positive, limits the route to that many requests
	// per minute per client address (for public routes that can be
	// abused, such as one-click decision links and the login).
	AddressLimit int
}

func (rt Route) name() string { return rt.Method + " " + rt.Pattern }

// apiRoutes is the route table of the REST API.
func (s *Server) apiRoutes() []Route {
	routes := []Route{
		{Method: "GET", Pattern: "/health", Scope: ScopePublic, Handler: s.health},
		{Method: "GET", Pattern: "/ready", Scope: ScopePublic, Handler: s.ready},
		{Method: "GET", Pattern: "/metrics", Scope: ScopePublic, Handler: s.metricsHandler},

		{Method: "GET", Pattern: "/api/me", Scope: ScopeAny, Handler: s.whoami},

		{Method: "POST", Pattern: "/api/requests", Scope: auth.ScopeRequestCreate, Handler: s.createRequest},
		{Method: "GET", Pattern: "/api/requests", Scope: auth.ScopeRequestRead, Handler: s.listRequests},
		{Method: "GET", Pattern: "/api/requests/{id}", Scope: auth.ScopeRequestRead, Handler: s.getRequest},
		{Method: "GET", Pattern: "/api/requests/{id}/audit", Scope: auth.ScopeRequestRead, Handler: s.requestAudit},
		{Method: "GET", Pattern: "/api/requests/{id}/wait", Scope: auth.ScopeRequestRead, Streaming: true, Handler: s.waitRequest},
		{Method: "GET", Pattern: "/api/events", Scope: auth.ScopeRequestRead, Streaming: true, Handler: s.streamEvents},
		{Method: "POST", Pattern: "/api/requests/{id}/decide", Scope: auth.ScopeRequestDecide, Handler: s.decideRequest},
		{Method: "POST", Pattern: "/api/requests/decide-batch", Scope: auth.ScopeRequestDecide, Handler: s.decideBatch},

		{Method: "GET", Pattern: "/api/grants", Scope: auth.ScopeRequestRead, Handler: s.listGrants},
		{Method: "DELETE", Pattern: "/api/grants/{id}", Scope: auth.ScopeRequestDecide, Handler: s.revokeGrant},

		{Method: "GET", Pattern: "/api/groups", Scope: auth.ScopeAdmin, Handler: s.listGroups},
		{Method: "POST", Pattern: "/api/groups", Scope: auth.ScopeAdmin, Handler: s.saveGroup},
		{Method: "GET", Pattern: "/api/groups/{name}", Scope: auth.ScopeAdmin, Handler: s.getGroup},
		{Method: "PUT", Pattern: "/api/groups/{name}", Scope: auth.ScopeAdmin, Handler: s.saveGroup},
		{Method: "DELETE", Pattern: "/api/groups/{name}", Scope: auth.ScopeAdmin, Handler: s.deleteGroup},

		{Method: "GET", Pattern: "/api/audit", Scope: auth.ScopeRequestRead, Handler: s.listAudit},
		{Method: "GET", Pattern: "/api/audit/verify", Scope: auth.ScopeRequestRead, Handler: s.verifyAudit},
		{Method: "GET", Pattern: "/api/audit/export", Scope: auth.ScopeAdmin, Streaming: true, Handler: s.exportAudit},

		{Method: "GET", Pattern: "/api/policies", Scope: auth.ScopeAdmin, Handler: s.listPolicies},
		{Method: "POST", Pattern: "/api/policies", Scope: auth.ScopeAdmin, Handler: s.createPolicy},
		{Method: "POST", Pattern: "/api/policies/dry-run", Scope: auth.ScopeAdmin, Handler: s.dryRunAll},
		{Method: "POST", Pattern: "/api/policies/simulate", Scope: auth.ScopeAdmin, Handler: s.simulatePolicy},
		{Method: "GET", Pattern: "/api/policies/templates", Scope: auth.ScopeAdmin, Handler: s.listTemplates},
		{Method: "POST", Pattern: "/api/policies/from-template", Scope: auth.ScopeAdmin, Handler: s.createFromTemplate},
		{Method: "GET", Pattern: "/api/policies/{id}", Scope: auth.ScopeAdmin, Handler: s.getPolicy},
		{Method: "PUT", Pattern: "/api/policies/{id}", Scope: auth.ScopeAdmin, Handler: s.replacePolicy},
		{Method: "PATCH", Pattern: "/api/policies/{id}", Scope: auth.ScopeAdmin, Handler: s.patchPolicy},
		{Method: "DELETE", Pattern: "/api/policies/{id}", Scope: auth.ScopeAdmin, Handler: s.deletePolicy},
		{Method: "POST", Pattern: "/api/policies/{id}/dry-run", Scope: auth.ScopeAdmin, Handler: s.dryRunPolicy},

		{Method: "POST", Pattern: "/api/keys", Scope: auth.ScopeAdmin, Handler: s.createKey},
		{Method: "GET", Pattern: "/api/keys", Scope: auth.ScopeAdmin, Handler: s.listKeys},
		{Method: "PATCH", Pattern: "/api/keys/{id}", Scope: auth.ScopeAdmin, Handler: s.updateKey},
		{Method: "DELETE", Pattern: "/api/keys/{id}", Scope: auth.ScopeAdmin, Handler: s.revokeKey},
		// The upstream's paths for the same resource.
		{Method: "POST", Pattern: "/api/api-keys", Scope: auth.ScopeAdmin, Handler: s.createKey},
		{Method: "GET", Pattern: "/api/api-keys", Scope: auth.ScopeAdmin, Handler: s.listKeys},
		{Method: "PATCH", Pattern: "/api/api-keys/{id}", Scope: auth.ScopeAdmin, Handler: s.updateKey},
		{Method: "DELETE", Pattern: "/api/api-keys/{id}", Scope: auth.ScopeAdmin, Handler: s.revokeKey},
	}
	if s.webhooks != nil {
		routes = append(routes, s.webhookRoutes()...)
	}
	return routes
}

// webhookRoutes manage webhook subscriptions and their delivery log.
func (s *Server) webhookRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/webhooks", Scope: auth.ScopeWebhookManage, Handler: s.createWebhook},
		{Method: "GET", Pattern: "/api/webhooks", Scope: auth.ScopeWebhookManage, Handler: s.listWebhooks},
		{Method: "GET", Pattern: "/api/webhooks/{id}", Scope: auth.ScopeWebhookManage, Handler: s.getWebhook},
		{Method: "PATCH", Pattern: "/api/webhooks/{id}", Scope: auth.ScopeWebhookManage, Handler: s.patchWebhook},
		{Method: "DELETE", Pattern: "/api/webhooks/{id}", Scope: auth.ScopeWebhookManage, Handler: s.deleteWebhook},
		{Method: "POST", Pattern: "/api/webhooks/{id}/test", Scope: auth.ScopeWebhookManage, Handler: s.testWebhook},
		{Method: "GET", Pattern: "/api/webhooks/{id}/deliveries", Scope: auth.ScopeWebhookManage, Handler: s.listDeliveries},
		{Method: "GET", Pattern: "/api/webhooks/{id}/deliveries/{deliveryId}", Scope: auth.ScopeWebhookManage, Handler: s.getDelivery},
		{Method: "POST", Pattern: "/api/webhooks/deliveries/{id}/replay", Scope: auth.ScopeWebhookManage, Handler: s.replayDelivery},
	}
}

// Handle registers rt. Other packages add their routes through it, so
// that every route passes the same authentication and appears in Routes.
func (s *Server) Handle(rt Route) {
	s.routes = append(s.routes, rt)
	s.mux.Handle(rt.name(), s.wrap(rt))
}

// wrap authenticates and authorizes the caller for rt, then runs it and
// renders its error.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := infoFrom(r.Context())
		ri.route = rt.name()
		ri.streaming = rt.Streaming
		if err := s.limitAddress(r, rt.name(), rt.AddressLimit); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if rt.Scope != ScopePublic {
			p, err := s.authenticateThrottled(r)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="agentgate"`)
				writeError(w, r, s.log, err)
				return
			}
			ri.keyID = p.KeyID
			if err := s.limitKey(w, r, p); err != nil {
				writeError(w, r, s.log, err)
				return
			}
			if rt.Scope != ScopeAny && !p.Has(rt.Scope) {
				writeError(w, r, s.log, approval.Errorf(approval.CodeForbidden, "API key lacks the %q scope", rt.Scope))
				return
			}
			r = r.WithContext(auth.NewContext(r.Context(), p))
		}
		if err := rt.Handler(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (*auth.Principal, error) {
	token, err := bearerToken(r)
	if err != nil {
		return nil, err
	}
	p, err := s.auth.Authenticate(r.Context(), token)
	if err != nil {
		if approval.ErrorCode(err) == approval.CodeInternal {
			return nil, errors.Join(approval.Errorf(approval.CodeUnavailable, "authentication is unavailable"), err)
		}
		return nil, err
	}
	return p, nil
}

// principal returns the authenticated principal of r; routes with a scope
// always have one.
func principal(r *http.Request) *auth.Principal {
	if p := auth.FromContext(r.Context()); p != nil {
		return p
	}
	return &auth.Principal{}
}
