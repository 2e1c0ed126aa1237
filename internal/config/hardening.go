package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// maxRateLimit mirrors auth.MaxRateLimit (requests per minute).
const maxRateLimit = 1_000_000

// validateHardening checks the rate-limit, proxy, CORS, TLS and input
// limit settings.
func (c *Config) validateHardening() []error {
	var errs []error
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			// The URL may hold a password: never echo it.
			errs = append(errs, errors.New("REDIS_URL must be a redis://, rediss:// or unix:// URL such as redis://localhost:6379/0"))
		}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"AGENTGATE_DEFAULT_RATE_LIMIT", c.DefaultRateLimit}, {"AGENTGATE_ADMIN_RATE_LIMIT", c.AdminRateLimit},
		{"AGENTGATE_AUTH_FAILURE_LIMIT", c.AuthFailureLimit}} {
		if v.n < 0 || v.n > maxRateLimit {
			errs = append(errs, fmt.Errorf("%s must be between 0 (unlimited) and %d requests per minute, not %d", v.name, maxRateLimit, v.n))
		}
	}
	if _, err := ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseOrigins(c.CORSOrigins); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("AGENTGATE_TLS_CERT and AGENTGATE_TLS_KEY must be set together (PEM files) or both left empty"))
	}
	if c.MaxParamsKeys < 1 || c.MaxParamsKeys > 100_000 {
		errs = append(errs, fmt.Errorf("AGENTGATE_MAX_PARAMS_KEYS must be between 1 and 100000, not %d", c.MaxParamsKeys))
	}
	return errs
}

// ParseTrustedProxies parses AGENTGATE_TRUSTED_PROXIES: CIDR prefixes
// (10.0.0.0/8, fd00::/8) or single addresses. Empty entries are skipped.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("AGENTGATE_TRUSTED_PROXIES: %q is neither a CIDR prefix (10.0.0.0/8) nor an IP address", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ParseOrigins parses CORS_ORIGINS: exact origins such as
// https://app.example.com or http://localhost:5173, lower-cased. "*" is
// refused: every origin that may call the API from a browser is listed.
func ParseOrigins(list []string) ([]string, error) {
	var out []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == "*" || s == "null" {
			return nil, fmt.Errorf("CORS_ORIGINS does not accept %q: list each origin, e.g. https://app.example.com", s)
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
			return nil, fmt.Errorf("CORS_ORIGINS: %q is not an origin: use scheme://host[:port], e.g. https://app.example.com", s)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out, nil
}
