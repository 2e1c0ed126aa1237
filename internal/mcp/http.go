package mcp

import (
	"log/slog"
	"net/http"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/httpapi"
)

// HTTPOptions configure the server's /mcp endpoint.
type HTTPOptions struct {
	// MaxBodyBytes bounds a request body. Defaults to the SDK's 4 MiB.
	MaxBodyBytes int64
	// Version is reported as the MCP server's version.
	Version string
	// Logger receives failures. Defaults to discarding.
	Logger *slog.Logger
	// Heartbeat is the interval of progress notifications while a tool
	// call waits. Defaults to DefaultHeartbeat.
	Heartbeat time.Duration
}

// Routes returns the route of the approval tools over streamable HTTP,
// POST /mcp, for httpapi.Server.Handle. The API's authentication runs
// first (Bearer API key, request:create), and the tools then call the
// approval service in process as that key.
//
// The endpoint is stateless: every POST is complete in itself and no
// session lives in one replica's memory, so any replica behind a load
// balancer can answer any request, and a restart loses nothing. The tools
// need no session: a wait is a single call that streams its progress
// heartbeats on the POST's own event stream. What stateless mode gives up
// is server-to-client requests (sampling, elicitation, roots) and the GET
// stream, which these tools never use; GET and DELETE /mcp answer 405.
//
// Two SDK protections are off on purpose. The localhost DNS-rebinding
// check would refuse a server behind a reverse proxy on the same host
// (Host: agentgate.example.com arriving on 127.0.0.1), and a page in a
// victim's browser cannot send our Bearer key anyway; for the same reason
// no cross-origin check is needed.
func Routes(svc *approval.Service, o HTTPOptions) []httpapi.Route {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// One server for every request: the tools act as the principal that
	// the API's authentication put in the request's context, which the SDK
	// hands on to the tool handlers (building a server per request would
	// re-derive every schema, about a millisecond).
	srv := NewServer(&ServiceBackend{Approvals: svc}, &ServerOptions{Version: o.Version, Logger: o.Logger, Heartbeat: o.Heartbeat})
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{
		Stateless:                    true,
		DisableLocalhostProtection:   true,
		MaxRequestBodyBytes:          o.MaxBodyBytes,
		PropagateRequestCancellation: true,
		Logger:                       quiet(o.Logger),
	})
	serve := func(w http.ResponseWriter, r *http.Request) error {
		// A tool call may wait for a person up to MaxWait; the server's
		// write timeout is meant for ordinary calls.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(MaxWait + 30*time.Second))
		h.ServeHTTP(w, r)
		return nil
	}
	return []httpapi.Route{
		{Method: http.MethodPost, Pattern: "/mcp", Scope: auth.ScopeRequestCreate, Streaming: true, Handler: serve},
	}
}
