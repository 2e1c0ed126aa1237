package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// DefaultProxyWait is how long the gateway holds a tool call while a
// person decides, when ProxyOptions.MaxWait is not set.
const DefaultProxyWait = 10 * time.Minute

// ProxyOptions configure a gateway.
type ProxyOptions struct {
	// Name names the upstream server in actions: a call of its tool T
	// asks for approval of "mcp.<Name>.T". Letters, digits, '_' and '-'.
	// Required.
	Name string
	// Backend is where approvals are asked. Required.
	Backend Backend
	// FailOpen forwards calls without approval when AgentGate cannot be
	// reached (no connection, timeout, 5xx). Every such call is logged as
	// a warning and recorded in AgentGate once it answers again. Answers
	// such as 401 or 403 still refuse the call: a revoked key must not open
	// the gate. Defaults to false: unreachable means refused.
	FailOpen bool
	// MaxWait is how long a call waits for a person before it is refused
	// as undecided. Defaults to DefaultProxyWait.
	MaxWait time.Duration
	// Heartbeat is the interval of progress notifications while a call
	// waits. Defaults to DefaultHeartbeat.
	Heartbeat time.Duration
	// RecordRetry is how often records of fail-open calls are retried
	// while AgentGate is unreachable. Defaults to 30s.
	RecordRetry time.Duration
	// Version is the gateway's version, sent to the upstream server.
	Version string
	// Logger receives warnings (fail-open calls, upstream failures).
	// Defaults to discarding; the command logs to stderr.
	Logger *slog.Logger
}

var proxyName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Proxy is an MCP gateway: an MCP server that re-exposes an upstream MCP
// server's tools, resources and prompts unchanged, and turns every tool
// call into an AgentGate approval request. The call reaches the upstream
// only once approved, and with exactly the approved arguments.
type Proxy struct {
	o      ProxyOptions
	up     *sdk.ClientSession
	srv    *sdk.Server
	record *failOpenRecorder

	syncMu    sync.Mutex // one resync of a kind at a time
	tools     map[string]bool
	resources map[string]bool
	templates map[string]bool
	prompts   map[string]bool

	progressMu sync.Mutex
	progress   map[string]progressRoute // upstream token -> downstream call
	tokenSeq   atomic.Int64

	bg     context.Context
	stopBG context.CancelFunc
	wg     sync.WaitGroup
}

// progressRoute sends an upstream progress notification on to the
// downstream call it belongs to.
type progressRoute struct {
	session *sdk.ServerSession
	token   any
	offset  float64 // heartbeats already sent; upstream progress is added
}

// NewProxy connects to the upstream server over upstream, reads its tools,
// resources and prompts, and returns the gateway. Serve it with Run. ctx
// bounds the connection and the initial listing only.
func NewProxy(ctx context.Context, upstream sdk.Transport, o ProxyOptions) (*Proxy, error) {
	if !proxyName.MatchString(o.Name) {
		return nil, fmt.Errorf("mcp proxy: name %q must be 1 to 64 letters, digits, '_' or '-'", o.Name)
	}
	if o.Backend == nil {
		return nil, errors.New("mcp proxy: no backend")
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultProxyWait
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.RecordRetry <= 0 {
		o.RecordRetry = 30 * time.Second
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		o: o, tools: map[string]bool{}, resources: map[string]bool{}, templates: map[string]bool{}, prompts: map[string]bool{},
		progress: map[string]progressRoute{},
	}
	p.bg, p.stopBG = context.WithCancel(context.WithoutCancel(ctx))
	p.record = newFailOpenRecorder(o.Backend, o.Logger)

	// The gateway advertises no client capabilities upstream (no roots,
	// sampling or elicitation): it cannot relay server-to-client requests,
	// and a filesystem server that saw a roots capability would replace
	// its command-line directories with our (empty) roots.
	cl := sdk.NewClient(&sdk.Implementation{Name: "agentgate-mcp-proxy", Version: o.Version}, &sdk.ClientOptions{
		Logger:                      quiet(o.Logger),
		Capabilities:                &sdk.ClientCapabilities{},
		ToolListChangedHandler:      func(ctx context.Context, _ *sdk.ToolListChangedRequest) { p.resync(p.syncTools) },
		ResourceListChangedHandler:  func(ctx context.Context, _ *sdk.ResourceListChangedRequest) { p.resync(p.syncResources) },
		PromptListChangedHandler:    func(ctx context.Context, _ *sdk.PromptListChangedRequest) { p.resync(p.syncPrompts) },
		ProgressNotificationHandler: p.forwardProgress,
	})
	up, err := cl.Connect(ctx, upstream, nil)
	if err != nil {
		p.stopBG()
		return nil, fmt.Errorf("mcp proxy: connect to the upstream server: %w", err)
	}
	p.up = up

	impl := &sdk.Implementation{Name: "agentgate-" + o.Name, Version: o.Version}
	caps := &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{ListChanged: true}, Logging: &sdk.LoggingCapabilities{}}
	sopts := &sdk.ServerOptions{Capabilities: caps, Logger: quiet(o.Logger)}
	var upCaps *sdk.ServerCapabilities
	if ir := up.InitializeResult(); ir != nil {
		if ir.ServerInfo != nil {
			// Clients show the upstream's own name and version.
			info := *ir.ServerInfo
			info.Title = titleOf(ir.ServerInfo) + " (via AgentGate)"
			impl = &info
		}
		sopts.Instructions = ir.Instructions
		upCaps = ir.Capabilities
	}
	if upCaps == nil {
		upCaps = &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}}
	}
	if upCaps.Resources != nil {
		caps.Resources = &sdk.ResourceCapabilities{ListChanged: true}
	}
	if upCaps.Prompts != nil {
		caps.Prompts = &sdk.PromptCapabilities{ListChanged: true}
	}
	if upCaps.Completions != nil {
		caps.Completions = &sdk.CompletionCapabilities{}
		sopts.CompletionHandler = func(ctx context.Context, req *sdk.CompleteRequest) (*sdk.CompleteResult, error) {
			return p.up.Complete(ctx, req.Params)
		}
	}
	p.srv = sdk.NewServer(impl, sopts)

	syncs := []func(context.Context) error{p.syncTools}
	if upCaps.Resources != nil {
		syncs = append(syncs, p.syncResources)
	}
	if upCaps.Prompts != nil {
		syncs = append(syncs, p.syncPrompts)
	}
	for _, sync := range syncs {
		if err := sync(ctx); err != nil {
			_ = p.Close()
			return nil, err
		}
	}
	p.wg.Go(func() { p.record.loop(p.bg, o.RecordRetry) })
	return p, nil
}

func titleOf(i *sdk.Implementation) string {
	if i.Title != "" {
		return i.Title
	}
	return i.Name
}

// Server is the gateway's MCP server, to serve on any transport.
func (p *Proxy) Server() *sdk.Server { return p.srv }

// Run serves the gateway on downstream until the client leaves, ctx ends,
// or the upstream server goes away.
func (p *Proxy) Run(ctx context.Context, downstream sdk.Transport) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	upDone := make(chan struct{})
	go func() {
		_ = p.up.Wait()
		close(upDone)
		cancel()
	}()
	err := p.srv.Run(ctx, downstream)
	select {
	case <-upDone:
		return errors.New("mcp proxy: the upstream MCP server closed the connection")
	default:
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// Close disconnects from the upstream server (ending a child process) and
// makes a last attempt to record fail-open calls.
func (p *Proxy) Close() error {
	err := p.up.Close()
	p.stopBG()
	p.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n := p.record.flush(ctx); n > 0 {
		p.o.Logger.Error("mcp proxy: fail-open calls could not be recorded in AgentGate", "count", n)
	}
	return err
}

// Action is the AgentGate action of a call of tool through the gateway.
func (p *Proxy) Action(tool string) string { return "mcp." + p.o.Name + "." + tool }

// resync runs one list sync in the background (list-changed handlers must
// not block the connection that delivers them).
func (p *Proxy) resync(sync func(context.Context) error) {
	p.wg.Go(func() {
		ctx, cancel := context.WithTimeout(p.bg, 30*time.Second)
		defer cancel()
		if err := sync(ctx); err != nil && p.bg.Err() == nil {
			p.o.Logger.Warn("mcp proxy: could not refresh the upstream's lists", "err", err)
		}
	})
}

// syncTools makes the gateway's tools those of the upstream server.
func (p *Proxy) syncTools(ctx context.Context) error {
	var tools []*sdk.Tool
	for t, err := range p.up.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("mcp proxy: list the upstream's tools: %w", err)
		}
		tools = append(tools, t)
	}
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	seen := map[string]bool{}
	for _, t := range tools {
		if err := guard(func() { p.srv.AddTool(t, p.callTool(t)) }); err != nil {
			p.o.Logger.Warn("mcp proxy: upstream tool not re-exposed", "tool", t.Name, "err", err)
			continue
		}
		seen[t.Name] = true
	}
	var gone []string
	for name := range p.tools {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	p.srv.RemoveTools(gone...)
	p.tools = seen
	return nil
}

func (p *Proxy) syncResources(ctx context.Context) error {
	var rs []*sdk.Resource
	for r, err := range p.up.Resources(ctx, nil) {
		if err != nil {
			return fmt.Errorf("mcp proxy: list the upstream's resources: %w", err)
		}
		rs = append(rs, r)
	}
	var ts []*sdk.ResourceTemplate
	for t, err := range p.up.ResourceTemplates(ctx, nil) {
		if err != nil {
			return fmt.Errorf("mcp proxy: list the upstream's resource templates: %w", err)
		}
		ts = append(ts, t)
	}
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	seen := map[string]bool{}
	for _, r := range rs {
		if err := guard(func() { p.srv.AddResource(r, p.readResource) }); err != nil {
			p.o.Logger.Warn("mcp proxy: upstream resource not re-exposed", "uri", r.URI, "err", err)
			continue
		}
		seen[r.URI] = true
	}
	for uri := range p.resources {
		if !seen[uri] {
			p.srv.RemoveResources(uri)
		}
	}
	p.resources = seen
	seenT := map[string]bool{}
	for _, t := range ts {
		if err := guard(func() { p.srv.AddResourceTemplate(t, p.readResource) }); err != nil {
			p.o.Logger.Warn("mcp proxy: upstream resource template not re-exposed", "uri", t.URITemplate, "err", err)
			continue
		}
		seenT[t.URITemplate] = true
	}
	for uri := range p.templates {
		if !seenT[uri] {
			p.srv.RemoveResourceTemplates(uri)
		}
	}
	p.templates = seenT
	return nil
}

func (p *Proxy) syncPrompts(ctx context.Context) error {
	var ps []*sdk.Prompt
	for pr, err := range p.up.Prompts(ctx, nil) {
		if err != nil {
			return fmt.Errorf("mcp proxy: list the upstream's prompts: %w", err)
		}
		ps = append(ps, pr)
	}
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	seen := map[string]bool{}
	for _, pr := range ps {
		if err := guard(func() { p.srv.AddPrompt(pr, p.getPrompt) }); err != nil {
			p.o.Logger.Warn("mcp proxy: upstream prompt not re-exposed", "prompt", pr.Name, "err", err)
			continue
		}
		seen[pr.Name] = true
	}
	for name := range p.prompts {
		if !seen[name] {
			p.srv.RemovePrompts(name)
		}
	}
	p.prompts = seen
	return nil
}

// guard runs f, turning a panic into an error: the SDK panics on a
// schema or URI it refuses, and one odd upstream item must not bring the
// gateway down.
func guard(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	f()
	return nil
}

// Resources and prompts pass through without approval: reading them is
// side-effect free by the protocol, and the host application, not the
// model, decides what to read.
func (p *Proxy) readResource(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	return p.up.ReadResource(ctx, req.Params)
}

func (p *Proxy) getPrompt(ctx context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
	return p.up.GetPrompt(ctx, req.Params)
}

// forwardProgress relays the upstream's progress on a forwarded call to
// the downstream call, after the gateway's own heartbeats.
func (p *Proxy) forwardProgress(ctx context.Context, req *sdk.ProgressNotificationClientRequest) {
	key := fmt.Sprint(req.Params.ProgressToken)
	p.progressMu.Lock()
	route, ok := p.progress[key]
	p.progressMu.Unlock()
	if !ok {
		return
	}
	n := *req.Params
	n.ProgressToken = route.token
	if route.offset > 0 {
		// Progress must keep growing after our heartbeats; the upstream's
		// total no longer applies.
		n.Progress += route.offset
		n.Total = 0
	}
	_ = route.session.NotifyProgress(ctx, &n)
}

// callTool returns the handler of tool t: ask, wait, forward or refuse.
func (p *Proxy) callTool(t *sdk.Tool) sdk.ToolHandler {
	action := p.Action(t.Name)
	return func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		args := bytes.TrimSpace(req.Params.Arguments)
		if len(args) == 0 || string(args) == "null" {
			args = []byte("{}")
		}
		if args[0] != '{' || !json.Valid(args) {
			return toolError("AgentGate: the arguments of %s must be a JSON object; the call was not executed", t.Name), nil
		}
		ask := Ask{Action: action, Params: args, Context: p.callContext(req, t)}
		r, err := p.o.Backend.Request(ctx, ask)
		if err != nil {
			if errors.Is(err, ErrUnavailable) && p.o.FailOpen {
				return p.failOpen(ctx, req, t, ask, args, err)
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			p.o.Logger.Warn("mcp proxy: call refused: AgentGate could not be asked", "action", action, "err", err)
			return toolError("AgentGate could not be asked for approval (%v); the call to %s was refused and not executed (fail closed)", err, t.Name), nil
		}
		p.record.kick()
		var heartbeats float64
		if r.Status == StatusPending {
			stop := keepAlive(ctx, req, p.o.Heartbeat, p.o.MaxWait, "approval of "+t.Name+" ("+r.ID+")")
			start := time.Now()
			w, werr := p.o.Backend.Wait(ctx, r.ID, p.o.MaxWait)
			stop()
			heartbeats = time.Since(start).Seconds()
			if werr != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return toolError("AgentGate: waiting for approval of %s failed (%v); the call was not executed [%s]", t.Name, werr, r.ID), nil
			}
			r = w
		}
		switch r.Status {
		case StatusApproved:
			return p.forward(ctx, req, t, r.EffectiveParams(), heartbeats)
		case StatusPending:
			return toolError("AgentGate: no decision on %s within %s; the call was not executed. Call the tool again to ask again [%s]",
				t.Name, p.o.MaxWait, r.ID), nil
		case StatusExpired:
			return toolError("AgentGate: the request to call %s expired without a decision; the call was not executed [%s]", t.Name, r.ID), nil
		default:
			return toolError("AgentGate: %s; the call to %s was not executed [%s]", summary(r), t.Name, r.ID), nil
		}
	}
}

// callContext is the approval request's context: which gateway, tool and
// client, and the tool's annotations. Annotations come from the upstream
// server; a policy that trusts readOnlyHint trusts that server.
func (p *Proxy) callContext(req *sdk.CallToolRequest, t *sdk.Tool) json.RawMessage {
	m := map[string]any{"gateway": p.o.Name, "tool": t.Name}
	if t.Title != "" {
		m["title"] = t.Title
	}
	if ir := p.up.InitializeResult(); ir != nil && ir.ServerInfo != nil {
		m["server"] = map[string]any{"name": ir.ServerInfo.Name, "version": ir.ServerInfo.Version}
	}
	if ci := req.ClientInfo(); ci != nil && ci.Name != "" {
		m["client"] = map[string]any{"name": ci.Name, "version": ci.Version}
	}
	if t.Annotations != nil {
		m["annotations"] = t.Annotations
	}
	b, err := json.Marshal(map[string]any{"mcp": m})
	if err != nil {
		return nil
	}
	return b
}

// forward calls the upstream tool with args, relaying its progress to the
// downstream call if the client asked for progress.
func (p *Proxy) forward(ctx context.Context, req *sdk.CallToolRequest, t *sdk.Tool, args json.RawMessage, offset float64) (*sdk.CallToolResult, error) {
	params := &sdk.CallToolParams{Name: t.Name, Arguments: args}
	if tok := req.Params.GetProgressToken(); tok != nil && req.Session != nil {
		up := fmt.Sprintf("agentgate-%d", p.tokenSeq.Add(1))
		params.SetProgressToken(up)
		p.progressMu.Lock()
		p.progress[up] = progressRoute{session: req.Session, token: tok, offset: offset}
		p.progressMu.Unlock()
		defer func() {
			p.progressMu.Lock()
			delete(p.progress, up)
			p.progressMu.Unlock()
		}()
	}
	return p.up.CallTool(ctx, params)
}

// failOpen forwards a call AgentGate could not be asked about, loudly.
func (p *Proxy) failOpen(ctx context.Context, req *sdk.CallToolRequest, t *sdk.Tool, ask Ask, args json.RawMessage, cause error) (*sdk.CallToolResult, error) {
	p.o.Logger.Warn("FAIL-OPEN: AgentGate is unreachable; forwarding the call WITHOUT approval",
		"action", ask.Action, "err", cause)
	p.record.add(ask, time.Now(), cause)
	return p.forward(ctx, req, t, args, 0)
}

func toolError(format string, args ...any) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf(format, args...)}}}
}
