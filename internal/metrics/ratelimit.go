package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentgate/agentgate/internal/ratelimit"
)

type rateLimitMetrics struct {
	limited   *prometheus.CounterVec
	fallback  prometheus.Counter
	backendUp prometheus.Gauge
}

var _ ratelimit.Observer = (*Metrics)(nil)

func (m *Metrics) registerRateLimit() {
	m.rateLimit = rateLimitMetrics{
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentgate_rate_limited_total",
			Help: "Requests answered 429 by a rate limit, by kind: key (per-key limit), address (per-address route limit), auth_failure (repeated failed authentications).",
		}, []string{"kind"}),
		fallback: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agentgate_rate_limit_fallback_total",
			Help: "Rate-limit checks answered by the per-process in-memory fallback because Redis was unreachable.",
		}),
		backendUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "agentgate_rate_limit_backend_up",
			Help: "1 when the rate limiter's shared backend (Redis) answers or none is configured, 0 during an outage.",
		}),
	}
	m.rateLimit.backendUp.Set(1)
	m.reg.MustRegister(m.rateLimit.limited, m.rateLimit.fallback, m.rateLimit.backendUp)
}

// RateLimited counts one request refused by a limit of the given kind.
func (m *Metrics) RateLimited(kind string) { m.rateLimit.limited.WithLabelValues(kind).Inc() }

// RateLimitFallback implements ratelimit.Observer.
func (m *Metrics) RateLimitFallback() { m.rateLimit.fallback.Inc() }

// RateLimitBackendUp implements ratelimit.Observer.
func (m *Metrics) RateLimitBackendUp(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.rateLimit.backendUp.Set(v)
}
