package app

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/metrics"
	"github.com/agentgate/agentgate/internal/ratelimit"
)

// newLimiter builds the rate limiter: per-process memory by default, or
// Redis (REDIS_URL) shared by every replica, behind a fallback to memory
// so that a Redis outage degrades limits instead of failing requests.
// The returned client, when not nil, is closed with the App.
func newLimiter(cfg *config.Config, log *slog.Logger, m *metrics.Metrics) (ratelimit.Limiter, *redis.Client, error) {
	if cfg.RedisURL == "" {
		return ratelimit.NewMemory(nil), nil, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// A limit check must be quick or skipped: bound every wait, so a
	// blackholed Redis costs a request at most the limiter's timeout.
	if opts.DialTimeout == 0 {
		opts.DialTimeout = time.Second
	}
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	fopts := &ratelimit.FallbackOptions{Logger: log}
	if m != nil {
		fopts.Observer = m
	}
	log.Info("rate limits are shared through Redis", "addr", opts.Addr, "db", opts.DB)
	return ratelimit.NewFallback(ratelimit.NewRedis(client, nil), ratelimit.NewMemory(nil), fopts), client, nil
}

// loadTLS reads AGENTGATE_TLS_CERT and AGENTGATE_TLS_KEY; nil when unset.
func loadTLS(cfg *config.Config) (*tls.Config, error) {
	if cfg.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("AGENTGATE_TLS_CERT/AGENTGATE_TLS_KEY: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
