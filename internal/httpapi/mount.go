package httpapi

import (
	"context"
	"net/http"
)

// Mount serves pattern with h, a handler outside the API's route table
// (the dashboard). h gets the server's outer middleware (request id,
// panic recovery, access log, metrics) but no API authentication: it
// authenticates its callers itself. Mount must be called before the
// server handles requests.
func (s *Server) Mount(pattern string, h http.Handler) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoFrom(r.Context()).route = pattern
		h.ServeHTTP(w, r)
	}))
}

// MarkStreaming tells the access log and metrics that the request in ctx
// is a long-lived stream, kept out of the latency histogram.
func MarkStreaming(ctx context.Context) { infoFrom(ctx).streaming = true }

// SetLogKey records the key a mounted handler authenticated, for the
// access log line.
func SetLogKey(ctx context.Context, keyID string) { infoFrom(ctx).keyID = keyID }
