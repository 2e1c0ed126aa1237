package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"
)

// parse reads a Config from vars only (not the process environment).
func parse(t *testing.T, vars map[string]string) (*Config, error) {
	t.Helper()
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return &c, c.Validate()
}

func TestHardeningSettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		vars    map[string]string
		wantErr string // "" means valid
	}{
		{"defaults", nil, ""},
		{"redis URL", map[string]string{"REDIS_URL": "redis://:pw@localhost:6379/0"}, ""},
		{"rediss and unix", map[string]string{"REDIS_URL": "rediss://h:6380"}, ""},
		{"redis URL of another scheme, password not echoed", map[string]string{"REDIS_URL": "http://:hunter2@h"}, "REDIS_URL must be"},
		{"empty default rate limit is unlimited", map[string]string{"AGENTGATE_DEFAULT_RATE_LIMIT": ""}, ""},
		{"negative default rate limit", map[string]string{"AGENTGATE_DEFAULT_RATE_LIMIT": "-1"}, "AGENTGATE_DEFAULT_RATE_LIMIT must be between 0"},
		{"admin rate limit too high", map[string]string{"AGENTGATE_ADMIN_RATE_LIMIT": "1000001"}, "AGENTGATE_ADMIN_RATE_LIMIT"},
		{"auth failure limit negative", map[string]string{"AGENTGATE_AUTH_FAILURE_LIMIT": "-5"}, "AGENTGATE_AUTH_FAILURE_LIMIT"},
		{"trusted proxies", map[string]string{"AGENTGATE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1,fd00::/8,"}, ""},
		{"trusted proxy typo", map[string]string{"AGENTGATE_TRUSTED_PROXIES": "10.0.0.0/33"}, "AGENTGATE_TRUSTED_PROXIES"},
		{"cors origins", map[string]string{"CORS_ORIGINS": "https://app.example.com,http://localhost:5173"}, ""},
		{"cors wildcard refused", map[string]string{"CORS_ORIGINS": "*"}, `CORS_ORIGINS does not accept "*"`},
		{"cors origin with a path", map[string]string{"CORS_ORIGINS": "https://app.example.com/app"}, "is not an origin"},
		{"cors origin without scheme", map[string]string{"CORS_ORIGINS": "app.example.com"}, "is not an origin"},
		{"cors wildcard subdomain", map[string]string{"CORS_ORIGINS": "https://*.example.com"}, "is not an origin"},
		{"tls pair", map[string]string{"AGENTGATE_TLS_CERT": "c.pem", "AGENTGATE_TLS_KEY": "k.pem"}, ""},
		{"tls cert without key", map[string]string{"AGENTGATE_TLS_CERT": "c.pem"}, "must be set together"},
		{"params keys zero", map[string]string{"AGENTGATE_MAX_PARAMS_KEYS": "0"}, "AGENTGATE_MAX_PARAMS_KEYS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(t, tc.vars)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Fatalf("the error echoes the Redis password: %v", err)
			}
		})
	}
}

func TestHardeningDefaults(t *testing.T) {
	t.Parallel()
	c, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultRateLimit != 0 || c.AdminRateLimit != 0 || c.AuthFailureLimit != 30 || c.MaxParamsKeys != 256 ||
		c.RedisURL != "" || len(c.CORSOrigins) != 0 || len(c.TrustedProxies) != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	if got := c.PublicURL(); !strings.HasPrefix(got, "http://") {
		t.Errorf("PublicURL %s without TLS", got)
	}
	c.TLSCert, c.TLSKey = "c", "k"
	if got := c.PublicURL(); !strings.HasPrefix(got, "https://") {
		t.Errorf("PublicURL %s with TLS", got)
	}
}

func TestParseTrustedProxiesAndOrigins(t *testing.T) {
	t.Parallel()
	ps, err := ParseTrustedProxies([]string{" 10.1.2.3/8 ", "192.168.0.7", "::ffff:172.16.0.1", "2001:db8::/32", ""})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.7/32"),
		netip.MustParsePrefix("172.16.0.1/32"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(ps, want) {
		t.Errorf("proxies %v, want %v", ps, want)
	}
	os, err := ParseOrigins([]string{"HTTPS://App.Example.com", "http://localhost:5173/"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://app.example.com", "http://localhost:5173"}; !slices.Equal(os, want) {
		t.Errorf("origins %v, want %v", os, want)
	}
}
