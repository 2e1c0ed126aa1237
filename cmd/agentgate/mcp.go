package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/mcp"
	"github.com/agentgate/agentgate/internal/mcp/remote"
)

// mcpRemote is how the MCP commands reach AgentGate: --url and --api-key,
// else AGENTGATE_URL and AGENTGATE_API_KEY.
type mcpRemote struct {
	url, key  string
	heartbeat time.Duration
}

func (r *mcpRemote) flags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&r.url, "url", "", "AgentGate's URL (default $AGENTGATE_URL, else http://localhost:3000)")
	cmd.PersistentFlags().StringVar(&r.key, "api-key", "", "API key with request:create and request:read (default $AGENTGATE_API_KEY; prefer the variable: flags show in ps)")
	cmd.PersistentFlags().DurationVar(&r.heartbeat, "heartbeat", mcp.DefaultHeartbeat, "interval of progress notifications while a call waits for a decision")
}

func (r *mcpRemote) client(log *slog.Logger) (*client.Client, error) {
	url := firstNonEmpty(r.url, os.Getenv("AGENTGATE_URL"), "http://localhost:3000")
	key := firstNonEmpty(r.key, os.Getenv("AGENTGATE_API_KEY"))
	if key == "" {
		// Deliberately not the CLI's config file: that usually holds a
		// person's key, and an agent must get its own key explicitly.
		return nil, &exitError{code: codeError, msg: "an API key is required: set AGENTGATE_API_KEY (or --api-key) to the agent's own key"}
	}
	c, err := client.New(url, key, client.WithUserAgent("agentgate-mcp/"+app.Version), client.WithLogger(log))
	if err != nil {
		return nil, &exitError{code: codeError, msg: err.Error()}
	}
	return c, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// mcpLogger logs to stderr: stdout carries the MCP protocol.
func mcpLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// checkKey warns at start when AgentGate cannot be reached or the key is
// more powerful than an agent needs; it never stops the server, since an
// MCP client starts it whether AgentGate is up yet or not.
func checkKey(ctx context.Context, c *client.Client, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	me, err := c.Me(ctx)
	if err != nil {
		log.Warn("cannot check the API key with AgentGate; calls will fail until it answers", "url", c.BaseURL(), "err", err)
		return
	}
	if slices.Contains(me.Scopes, client.ScopeAdmin) || slices.Contains(me.Scopes, client.ScopeRequestDecide) {
		log.Warn("this API key can decide requests; give agents a key with only request:create and request:read", "key", me.Name)
	}
}

func newMCPCmd() *cobra.Command {
	var ag mcpRemote
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve AgentGate's approval tools to an MCP client (stdio)",
		Long: `Serve AgentGate's approval tools to an MCP client (Claude Desktop, an IDE,
an agent framework) over stdio: request_approval, check_request,
list_requests and wait_for_decision. The tools call AgentGate's HTTP API
at AGENTGATE_URL with AGENTGATE_API_KEY.

No tool decides a request or changes a policy: an agent cannot approve its
own request. People decide in the dashboard, Slack, Discord, email or the CLI.

The server itself also offers these tools over streamable HTTP at /mcp.
See docs/mcp.md for client configuration.`,
		Example: `  AGENTGATE_URL=http://localhost:3000 AGENTGATE_API_KEY=agk_... agentgate mcp`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := mcpLogger()
			c, err := ag.client(log)
			if err != nil {
				return err
			}
			go checkKey(cmd.Context(), c, log)
			srv := mcp.NewServer(&remote.Backend{C: c}, &mcp.ServerOptions{Version: app.Version, Logger: log, Heartbeat: ag.heartbeat})
			log.Info("serving AgentGate's approval tools on stdio", "url", c.BaseURL())
			return stdioDone(srv.Run(cmd.Context(), &sdk.StdioTransport{}))
		},
	}
	ag.flags(cmd)
	cmd.AddCommand(newMCPProxyCmd(&ag))
	return cmd
}

// stdioDone treats the client closing stdin, or a signal, as a normal end.
func stdioDone(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) || errors.Is(err, sdk.ErrConnectionClosed) {
		return nil
	}
	return err
}

func newMCPProxyCmd(ag *mcpRemote) *cobra.Command {
	var (
		name     string
		upstream string
		headers  []string
		failOpen bool
		maxWait  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "proxy --name NAME (-- COMMAND [ARGS...] | --upstream URL)",
		Short: "Put an MCP server's tools behind approval (an MCP gateway)",
		Long: `Start an MCP server (a command speaking MCP on stdio, or a remote
streamable-HTTP endpoint with --upstream) and re-expose its tools, resources
and prompts unchanged to the MCP client on stdio. Every tool call first
becomes an AgentGate request for the action mcp.NAME.TOOL, with the call's
arguments as params and the client, gateway and the tool's annotations
(readOnlyHint, destructiveHint, ...) in its context:

  - a policy approves it: the call goes straight through;
  - a policy denies it: the client gets a tool error with the reason;
  - otherwise the call waits (with progress heartbeats) for a person, and
    is forwarded only if approved, with exactly the approved arguments.

If AgentGate cannot be reached the call is refused (fail closed).
--fail-open forwards such calls anyway, warns on stderr for each, and files
a record of each in AgentGate once it answers again.

The child process does not inherit AGENTGATE_API_KEY.`,
		Example: `  agentgate mcp proxy --name fs -- npx -y @modelcontextprotocol/server-filesystem /srv/data
  agentgate mcp proxy --name tickets --upstream https://mcp.example.com/mcp --header "Authorization: Bearer $TOKEN"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			switch {
			case name == "":
				return &exitError{code: codeUsage, msg: "--name is required (it names the actions: mcp.NAME.TOOL)"}
			case upstream != "" && len(args) > 0:
				return &exitError{code: codeUsage, msg: "give either --upstream URL or a command after --, not both"}
			case upstream == "" && len(args) == 0:
				return &exitError{code: codeUsage, msg: "give the MCP server to put behind approval: a command after --, or --upstream URL"}
			case len(args) > 0 && dash != 0:
				return &exitError{code: codeUsage, msg: "put the MCP server's command after --, e.g. agentgate mcp proxy --name fs -- npx -y @modelcontextprotocol/server-filesystem /data"}
			}
			hdr, err := parseHeaders(headers)
			if err != nil {
				return err
			}
			log := mcpLogger()
			c, err := ag.client(log)
			if err != nil {
				return err
			}
			if failOpen {
				fmt.Fprintln(os.Stderr, "agentgate: WARNING: --fail-open is on: when AgentGate cannot be reached, tool calls are forwarded WITHOUT approval")
				log.Warn("FAIL-OPEN is on: unreachable AgentGate means calls are forwarded without approval (and recorded later)")
			}
			go checkKey(cmd.Context(), c, log)

			var tr sdk.Transport
			if upstream != "" {
				tr = &sdk.StreamableClientTransport{Endpoint: upstream, HTTPClient: &http.Client{Transport: headerTransport(hdr)}}
			} else {
				child := exec.Command(args[0], args[1:]...)
				child.Stderr = os.Stderr // its logs reach the MCP client's log
				child.Env = childEnv(os.Environ())
				tr = &sdk.CommandTransport{Command: child}
			}
			// Generous: the first `npx -y` downloads the server.
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			p, err := mcp.NewProxy(ctx, tr, mcp.ProxyOptions{
				Name: name, Backend: &remote.Backend{C: c}, FailOpen: failOpen, MaxWait: maxWait,
				Heartbeat: ag.heartbeat, Version: app.Version, Logger: log,
			})
			cancel()
			if err != nil {
				return err
			}
			defer p.Close()
			log.Info("MCP gateway ready: tool calls need approval", "name", name, "actions", p.Action("TOOL"), "url", c.BaseURL())
			return stdioDone(p.Run(cmd.Context(), &sdk.StdioTransport{}))
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name of the upstream server in actions (mcp.NAME.TOOL); letters, digits, _ and -")
	cmd.Flags().StringVar(&upstream, "upstream", "", "URL of a remote MCP server (streamable HTTP) instead of a command")
	cmd.Flags().StringArrayVar(&headers, "header", nil, `HTTP header for --upstream, "Name: value" (repeatable)`)
	cmd.Flags().BoolVar(&failOpen, "fail-open", false, "forward calls WITHOUT approval when AgentGate cannot be reached (warned and recorded)")
	cmd.Flags().DurationVar(&maxWait, "max-wait", mcp.DefaultProxyWait, "how long a call waits for a person before it is refused")
	return cmd
}

// childEnv is the environment of the upstream server: ours without the
// AgentGate key, which a third-party server has no business holding.
func childEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "AGENTGATE_API_KEY=")
	})
}

func parseHeaders(hs []string) (http.Header, error) {
	h := http.Header{}
	for _, v := range hs {
		k, val, ok := strings.Cut(v, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, &exitError{code: codeUsage, msg: fmt.Sprintf("--header %q: want \"Name: value\"", v)}
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(val))
	}
	return h, nil
}

// headerTransport adds fixed headers to every request to the upstream.
type headerTransport http.Header

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(h) > 0 {
		r = r.Clone(r.Context())
		for k, vs := range h {
			r.Header[k] = vs
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}
