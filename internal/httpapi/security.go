package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Security headers. API responses are JSON, never rendered: the strictest
// policy costs nothing. HTML pages replace it with pageCSP (see HTML).
const (
	apiCSP = "default-src 'none'; frame-ancestors 'none'"
	// pageCSP allows only this origin, plus inline scripts and styles that
	// carry the request's nonce. %[1]s is the nonce.
	pageCSP = "default-src 'self'; script-src 'self' 'nonce-%[1]s'; style-src 'self' 'nonce-%[1]s'; " +
		"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	hsts = "max-age=31536000"
)

// CORS: the methods and request headers a browser may use cross-origin,
// and the response headers its script may read.
var (
	corsMethods        = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	corsRequestHeaders = []string{"Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID", "X-Request-Id"}
	corsExposedHeaders = []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After",
		"X-Request-Id", "Idempotent-Replayed", "Location"}
)

// secure sets the security headers every response carries and answers
// CORS preflights. Handlers may replace a header (HTML pages do).
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", apiCSP)
		// Pages and links may carry tokens (one-click decisions): never
		// leak a URL to another site.
		h.Set("Referrer-Policy", "no-referrer")
		if s.servesTLS(r) {
			h.Set("Strict-Transport-Security", hsts)
		}
		if s.cors(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// servesTLS reports whether the client reached us over TLS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto.
func (s *Server) servesTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	peer := parseHostAddr(r.RemoteAddr)
	return peer.IsValid() && isTrusted(peer, s.cfg.TrustedProxies) &&
		strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

// cors adds the CORS headers for an allowed Origin and answers preflight
// requests; it reports whether it wrote the response. Credentials mode is
// never allowed (no Access-Control-Allow-Credentials): cross-origin
// callers authenticate with a bearer key, and the dashboard's session
// cookie is useless to another origin.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(s.cfg.CORSOrigins) == 0 {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if preflight {
		infoFrom(r.Context()).route = "OPTIONS (CORS preflight)"
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if !slices.Contains(s.cfg.CORSOrigins, strings.ToLower(origin)) {
		if preflight {
			writeJSON(w, http.StatusForbidden, errorBody{Error: "Origin " + quoteHeader(origin) + " is not allowed (CORS_ORIGINS)"})
			return true
		}
		return false // served without CORS headers: the browser hides the answer
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if !preflight {
		h.Set("Access-Control-Expose-Headers", strings.Join(corsExposedHeaders, ", "))
		return false
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if !slices.Contains(corsMethods, method) {
		writeJSON(w, http.StatusForbidden, errorBody{Error: "Method " + quoteHeader(method) + " is not allowed cross-origin"})
		return true
	}
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name != "" && !slices.ContainsFunc(corsRequestHeaders, func(a string) bool { return strings.EqualFold(a, name) }) {
				writeJSON(w, http.StatusForbidden, errorBody{Error: "Header " + quoteHeader(name) + " is not allowed cross-origin"})
				return true
			}
		}
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(corsMethods, ", "))
	h.Set("Access-Control-Allow-Headers", strings.Join(corsRequestHeaders, ", "))
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// quoteHeader quotes a client-sent value for an error message, cut short.
func quoteHeader(v string) string {
	if len(v) > 100 {
		v = v[:100] + "..."
	}
	return fmt.Sprintf("%q", v)
}

type nonceKey struct{}

// HTMLPolicy gives r's response the Content-Security-Policy of an HTML
// page, with a fresh nonce, and returns r carrying that nonce: render it
// into <script nonce="..."> and <style nonce="..."> with CSPNonce. Only
// this origin's scripts, styles, images and forms are allowed; no frames.
func HTMLPolicy(w http.ResponseWriter, r *http.Request) *http.Request {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	w.Header().Set("Content-Security-Policy", fmt.Sprintf(pageCSP, nonce))
	return r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce))
}

// CSPNonce returns the nonce HTMLPolicy put in ctx, or "" outside a page.
func CSPNonce(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey{}).(string)
	return n
}

// HTML wraps a page handler so that every response it writes carries the
// page policy and its nonce (see HTMLPolicy).
func HTML(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, HTMLPolicy(w, r))
	})
}
