package mcp_test

import (
	"slices"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentgate/agentgate/internal/mcp"
	"github.com/agentgate/agentgate/internal/mcp/remote"
)

// BenchmarkProxyAutoApproved measures what the gateway adds to a tool call
// that a policy approves: the same call of a small Go MCP server, direct
// and through the proxy. The proxy asks a real AgentGate (SQLite file, full
// HTTP stack on loopback) through the Go SDK, as `agentgate mcp proxy`
// does; "proxy-in-process" asks the approval service directly, to show
// how much of the cost is the HTTP hop. MCP transports are in memory in
// all three, so the difference is the approval round trip.
//
//	go test -run '^$' -bench ProxyAutoApproved -benchtime 2000x ./internal/mcp/
//
// p50-ms and p99-ms are per-call latencies.
func BenchmarkProxyAutoApproved(b *testing.B) {
	bb := setup(b)
	u := newUpstream()
	args := map[string]any{"path": "bench.txt"}
	measure := func(b *testing.B, cs *sdk.ClientSession) {
		call(b, cs, "read_thing", args) // warm up connections
		lat := make([]time.Duration, 0, 4096)
		for b.Loop() {
			start := time.Now()
			res, err := cs.CallTool(b.Context(), &sdk.CallToolParams{Name: "read_thing", Arguments: args})
			lat = append(lat, time.Since(start))
			if err != nil || res.IsError {
				b.Fatalf("call: %v %v", res, err)
			}
		}
		slices.Sort(lat)
		ms := func(q float64) float64 {
			return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
		}
		b.ReportMetric(ms(0.50), "p50-ms")
		b.ReportMetric(ms(0.99), "p99-ms")
	}
	b.Run("direct", func(b *testing.B) {
		measure(b, direct(b, u))
	})
	b.Run("proxy", func(b *testing.B) {
		_, cs := gateway(b, u, mcp.ProxyOptions{Backend: &remote.Backend{C: bb.agent}}, nil)
		measure(b, cs)
	})
	b.Run("proxy-in-process", func(b *testing.B) {
		_, cs := gateway(b, u, mcp.ProxyOptions{Backend: &mcp.ServiceBackend{Approvals: bb.srv.App.Approvals, Principal: bb.principal}}, nil)
		measure(b, cs)
	})
}
