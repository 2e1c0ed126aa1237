package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/httpapi"
	"github.com/agentgate/agentgate/internal/testserver"
)

func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for name, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: Content-Security-Policy %q, want default-src 'none' and frame-ancestors 'none'", what, csp)
	}
}

// TestSecurityHeaders checks every kind of response: success, each error
// status, metrics, unknown routes and wrong methods.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, nil)
	cases := []struct {
		method, path string
		key          string
		want         int
	}{
		{"GET", "/health", "", 200},
		{"GET", "/metrics", "", 200},
		{"GET", "/api/me", "", 401},
		{"GET", "/api/me", s.AdminKey, 200},
		{"GET", "/api/requests/req_missing", s.AdminKey, 404},
		{"POST", "/api/requests", s.AdminKey, 400},
		{"DELETE", "/api/requests", s.AdminKey, 405},
		{"GET", "/nope", "", 404},
	}
	for _, tc := range cases {
		resp, _ := send(t, nil, tc.method, s.URL+tc.path, tc.key, nil)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
		checkSecurityHeaders(t, tc.method+" "+tc.path, resp.Header)
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s %s: HSTS over plain HTTP", tc.method, tc.path)
		}
	}
}

func TestHTMLPolicyNonce(t *testing.T) {
	t.Parallel()
	var seen []string
	page := httpapi.HTML(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := httpapi.CSPNonce(r.Context())
		seen = append(seen, nonce)
		_, _ = w.Write([]byte(`<script nonce="` + nonce + `"></script>`))
	}))
	var csps []string
	for range 2 {
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		csps = append(csps, rec.Header().Get("Content-Security-Policy"))
	}
	if seen[0] == "" || seen[0] == seen[1] || len(seen[0]) < 16 {
		t.Fatalf("nonces %q: want fresh, non-empty, at least 16 characters", seen)
	}
	for i, csp := range csps {
		for _, want := range []string{"default-src 'self'", "script-src 'self' 'nonce-" + seen[i] + "'",
			"style-src 'self' 'nonce-" + seen[i] + "'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("page CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("page CSP %q allows unsafe sources", csp)
		}
	}
	if n := httpapi.CSPNonce(httptest.NewRequest("GET", "/", nil).Context()); n != "" {
		t.Errorf("nonce outside a page: %q", n)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const allowed = "https://app.example.com"
	s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) {
		c.CORSOrigins = []string{allowed, "http://localhost:5173"}
	}})
	preflight := func(origin, method, headers string) (*http.Response, []byte) {
		h := []string{"Origin", origin, "Access-Control-Request-Method", method}
		if headers != "" {
			h = append(h, "Access-Control-Request-Headers", headers)
		}
		return send(t, nil, http.MethodOptions, s.URL+"/api/requests", "", nil, h...)
	}

	t.Run("allowed preflight", func(t *testing.T) {
		resp, body := preflight(allowed, "POST", "authorization, content-type, idempotency-key")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		h := resp.Header
		if h.Get("Access-Control-Allow-Origin") != allowed {
			t.Errorf("Allow-Origin %q", h.Get("Access-Control-Allow-Origin"))
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), m) {
				t.Errorf("Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), m)
			}
		}
		for _, name := range []string{"Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Headers"), name) {
				t.Errorf("Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), name)
			}
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Error("credentials must never be allowed cross-origin")
		}
		if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("Vary %q lacks Origin", h.Values("Vary"))
		}
	})
	for _, tc := range []struct {
		name, origin, method, headers string
	}{
		{"unknown origin", "https://evil.example", "POST", ""},
		{"origin differing in scheme", "http://app.example.com", "GET", ""},
		{"method not allowed", allowed, "TRACE", ""},
		{"header not allowed", allowed, "GET", "x-custom"},
	} {
		t.Run("refused preflight: "+tc.name, func(t *testing.T) {
			resp, body := preflight(tc.origin, tc.method, tc.headers)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%d %s, want 403", resp.StatusCode, body)
			}
			errorOf(t, body)
			if tc.name == "unknown origin" && resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Error("refused origin got Access-Control-Allow-Origin")
			}
		})
	}
	t.Run("actual request from an allowed origin", func(t *testing.T) {
		resp, _ := get(t, s.URL+"/api/me", s.AdminKey, "Origin", allowed)
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != allowed {
			t.Fatalf("%d Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		exposed := resp.Header.Get("Access-Control-Expose-Headers")
		for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "X-Request-Id", "Idempotent-Replayed", "Location"} {
			if !strings.Contains(exposed, name) {
				t.Errorf("Expose-Headers %q lacks %s", exposed, name)
			}
		}
	})
	t.Run("actual request from another origin gets no CORS headers", func(t *testing.T) {
		resp, _ := get(t, s.URL+"/api/me", s.AdminKey, "Origin", "https://evil.example")
		if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Expose-Headers") != "" {
			t.Fatalf("CORS headers for a foreign origin: %v", resp.Header)
		}
	})
}

func TestCORSOffByDefault(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, nil)
	resp, _ := send(t, nil, http.MethodOptions, s.URL+"/api/requests", "", nil,
		"Origin", "https://app.example.com", "Access-Control-Request-Method", "POST")
	if resp.StatusCode == http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight without CORS_ORIGINS: %d Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp, _ = get(t, s.URL+"/api/me", s.AdminKey, "Origin", "https://app.example.com")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("Allow-Origin without CORS_ORIGINS")
	}
}

// selfSigned writes a new self-signed certificate for 127.0.0.1 and its
// key as PEM files and returns their paths and the certificate pool.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "agentgate test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t)
	s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) {
		c.TLSCert, c.TLSKey = certFile, keyFile
	}})
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("URL %s, want https", s.URL)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, body := send(t, client, http.MethodGet, s.URL+"/api/me", s.AdminKey, nil)
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("over TLS: %d tls=%v %s", resp.StatusCode, resp.TLS != nil, body)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("HSTS %q over TLS", got)
	}
	if resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %x", resp.TLS.Version)
	}
	// Plain HTTP to the TLS port is not served.
	plain, body := get(t, "http://"+strings.TrimPrefix(s.URL, "https://")+"/api/me", s.AdminKey)
	if plain.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS port: %d %s, want 400", plain.StatusCode, body)
	}
	// A client that does not trust the certificate fails the handshake.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(s.URL + "/health"); err == nil {
		t.Error("an untrusting client connected")
	}
}

func TestHSTSBehindTrustedTLSProxy(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1"} }})
	resp, _ := get(t, s.URL+"/health", "", "X-Forwarded-Proto", "https")
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS behind a trusted proxy that terminated TLS")
	}
	u := testserver.Start(t, nil)
	resp, _ = get(t, u.URL+"/health", "", "X-Forwarded-Proto", "https")
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS from an untrusted X-Forwarded-Proto")
	}
}
