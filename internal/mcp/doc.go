// Package mcp is AgentGate's Model Context Protocol side, on the official
// Go SDK (github.com/modelcontextprotocol/go-sdk, imported as sdk):
//
//   - NewServer: the approval tools an agent calls to ask before it acts
//     (request_approval, check_request, list_requests, wait_for_decision).
//     No tool decides a request or touches policies.
//   - Routes: those tools over stateless streamable HTTP at POST /mcp,
//     behind the REST API's authentication, calling the approval service
//     in process (ServiceBackend).
//   - Proxy: the MCP gateway. It re-exposes an upstream MCP server's tools,
//     resources and prompts unchanged and turns every tools/call into an
//     approval request for "mcp.<name>.<tool>": forwarded when approved
//     (with exactly the approved arguments), refused with a tool error
//     otherwise, and refused when AgentGate cannot be asked unless
//     FailOpen is set.
//
// The tool logic is written against Backend, which remote.Backend (the
// HTTP API through the public Go SDK, for `agentgate mcp` and
// `agentgate mcp proxy`) and ServiceBackend (in process) implement. This
// package must not import the public SDK (client/): the server imports
// this package, and the SDK's tests run the server.
//
// Calls that wait for a person send heartbeats (progress notifications,
// or log messages when the client sent no progress token) so that clients
// with a request timeout keep waiting. See docs/mcp.md.
package mcp
