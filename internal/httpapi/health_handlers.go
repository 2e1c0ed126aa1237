package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/wire"
)

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	body := map[string]any{"status": "ok", "timestamp": wire.Time(time.Now()), "version": s.version}
	if r.URL.Query().Get("deep") != "true" {
		writeJSON(w, http.StatusOK, body)
		return nil
	}
	status := http.StatusOK
	db := s.checkDB(r.Context())
	if db["status"] != "healthy" {
		status = http.StatusServiceUnavailable
		body["status"] = "degraded"
	}
	body["checks"] = map[string]any{"database": db}
	writeJSON(w, status, body)
	return nil
}

func (s *Server) checkDB(ctx context.Context) map[string]any {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.approvals.Ping(ctx); err != nil {
		s.log.Warn("database health check failed", "err", err)
		return map[string]any{"status": "unhealthy", "error": "database did not answer"}
	}
	return map[string]any{"status": "healthy", "latencyMs": float64(time.Since(start).Microseconds()) / 1000}
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining", "checks": map[string]bool{"db": true}})
		return nil
	}
	db := s.checkDB(r.Context())
	ok := db["status"] == "healthy"
	status := http.StatusOK
	state := "ok"
	if !ok {
		status, state = http.StatusServiceUnavailable, "degraded"
	}
	writeJSON(w, status, map[string]any{"status": state, "checks": map[string]bool{"db": ok}})
	return nil
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	if s.metrics == nil {
		return approval.Errorf(approval.CodeNotFound, "metrics are disabled")
	}
	s.metrics.Handler().ServeHTTP(w, r)
	return nil
}
