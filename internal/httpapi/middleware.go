package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
)

// reqInfo is filled in along the chain and read by the access log.
type reqInfo struct {
	id        string
	route     string
	keyID     string
	streaming bool // long-polls and streams: kept out of the latency histogram
	parked    bool // a parked long-poll: logged when it is answered
}

type reqInfoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	if ri == nil {
		return &reqInfo{}
	}
	return ri
}

// RequestID returns the id of the HTTP request in ctx.
func RequestID(ctx context.Context) string { return infoFrom(ctx).id }

// validRequestID accepts a client's X-Request-Id only when it is short and
// made of safe characters, so it cannot inject into logs, and does not look
// like a secret (a key pasted into the wrong header must not be logged).
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 || strings.HasPrefix(s, auth.KeyPrefix) || strings.HasPrefix(s, "whsec_") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe is the outermost middleware: request id, panic recovery, one
// access log line and the HTTP metrics per request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: r.Header.Get("X-Request-Id")}
		if !validRequestID(ri.id) {
			ri.id = newRequestID()
		}
		w.Header().Set("X-Request-Id", ri.id)
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The value's type and text only: no stack trace in logs.
				s.log.Error("handler panicked", "request_id", ri.id, "route", ri.route, "panic", panicText(v))
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, errorBody{Error: "internal error"})
				}
			}
			if ri.parked && sw.status == 0 {
				return
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.logAccess(ri.id, r.Method, ri.route, ri.keyID, s.ClientAddr(r).String(), status, time.Since(start), sw.bytes, ri.streaming)
		}()
		next.ServeHTTP(sw, r)
	})
}

// logAccess records one answered HTTP request in the metrics and the
// access log.
func (s *Server) logAccess(id, method, route, keyID, remote string, status int, d time.Duration, bytes int, streaming bool) {
	if s.metrics != nil {
		s.metrics.ObserveHTTP(route, method, status, d, streaming)
	}
	if s.accessLog {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "http",
			slog.String("request_id", id),
			slog.String("method", method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int("bytes", bytes),
			slog.String("key_id", keyID),
			slog.String("remote", remote),
		)
	}
}

func panicText(v any) string {
	switch x := v.(type) {
	case error:
		return x.Error()
	case string:
		return x
	}
	return "non-error panic value"
}

// bearerToken extracts the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", auth.ErrMissingCredentials
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", auth.ErrBadFormat
	}
	return strings.TrimSpace(token), nil
}
