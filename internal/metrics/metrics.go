// Package metrics exposes Prometheus metrics on a private registry.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentgate/agentgate/internal/approval"
)

// Metrics holds every collector. It implements approval.Observer.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	created         *prometheus.CounterVec
	decided         *prometheus.CounterVec
	decisionLatency *prometheus.HistogramVec
	policyErrors    *prometheus.CounterVec
	rateLimit       rateLimitMetrics
}

var _ approval.Observer = (*Metrics)(nil)

// New returns Metrics. pending, when not nil, is asked for the number of
// pending requests at each scrape.
func New(pending func(ctx context.Context) (int64, error)) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agentgate_http_requests_total",
		Help: "HTTP requests by route pattern, method and status code.",
	}, []string{"route", "method", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "agentgate_http_request_duration_seconds",
		Help:    "HTTP request duration by route pattern (long-polls and streams excluded).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	m.created = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agentgate_requests_created_total",
		Help: "Approval requests created, by outcome at creation (pending, approved, denied).",
	}, []string{"outcome"})
	m.decided = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agentgate_requests_decided_total",
		Help: "Approval requests that left the pending state, by outcome and by who decided (human, system).",
	}, []string{"outcome", "by"})
	m.decisionLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "agentgate_decision_latency_seconds",
		Help:    "Time from creation to decision of requests routed to people, by who decided.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600},
	}, []string{"by"})
	m.policyErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agentgate_policy_condition_errors_total",
		Help: "CEL condition evaluation errors (the rule did not match), by policy name.",
	}, []string{"policy"})
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.created, m.decided, m.decisionLatency, m.policyErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registerRateLimit()
	if pending != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "agentgate_requests_pending",
			Help: "Approval requests waiting for a decision.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := pending(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	return m
}

// Registry returns the private registry, for packages adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveHTTP records one HTTP request. route is the mux pattern (never
// the raw path, which would make a series per request id).
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration, streaming bool) {
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	if !streaming {
		m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
	}
}

// RequestCreated implements approval.Observer.
func (m *Metrics) RequestCreated(outcome approval.Status) {
	m.created.WithLabelValues(string(outcome)).Inc()
}

// RequestDecided implements approval.Observer.
func (m *Metrics) RequestDecided(outcome approval.Status, by approval.ActorType, latency time.Duration) {
	m.decided.WithLabelValues(string(outcome), string(by)).Inc()
	m.decisionLatency.WithLabelValues(string(by)).Observe(latency.Seconds())
}

// PolicyEvalError implements approval.Observer.
func (m *Metrics) PolicyEvalError(policyName string) {
	m.policyErrors.WithLabelValues(policyName).Inc()
}
