package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentgate/agentgate/internal/mcp"
)

// upstream is a small MCP server standing in for a third-party one: a
// read-only tool, a destructive one that records what it was asked to do,
// one the policy forbids, a slow one that reports progress, a resource
// and a prompt.
type upstream struct {
	srv *sdk.Server

	// release, when set, holds the slow tool after its progress until
	// closed, so a test can see the progress arrive while the call runs.
	release chan struct{}

	mu    sync.Mutex
	calls []upstreamCall
}

type upstreamCall struct {
	Tool string
	Args string // the JSON arguments as received
}

type pathArgs struct {
	Path string `json:"path" jsonschema:"file path"`
}

type writeArgs struct {
	Path    string `json:"path" jsonschema:"file path"`
	Content string `json:"content" jsonschema:"what to write"`
}

type writeOut struct {
	Bytes int `json:"bytes"`
}

func newUpstream() *upstream {
	u := &upstream{}
	u.srv = sdk.NewServer(&sdk.Implementation{Name: "test-upstream", Title: "Test upstream", Version: "0.0.1"},
		&sdk.ServerOptions{Instructions: "use read_thing to read",
			CompletionHandler: func(ctx context.Context, req *sdk.CompleteRequest) (*sdk.CompleteResult, error) {
				return &sdk.CompleteResult{Completion: sdk.CompletionResultDetails{Values: []string{req.Params.Argument.Value + "-done"}}}, nil
			}})
	sdk.AddTool(u.srv, &sdk.Tool{Name: "read_thing", Description: "Read a thing.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true, Title: "Read"}},
		func(ctx context.Context, req *sdk.CallToolRequest, in pathArgs) (*sdk.CallToolResult, any, error) {
			u.record(req)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "content of " + in.Path}}}, nil, nil
		})
	sdk.AddTool(u.srv, &sdk.Tool{Name: "write_thing", Description: "Write a thing.",
		Annotations: &sdk.ToolAnnotations{DestructiveHint: new(true)}},
		func(ctx context.Context, req *sdk.CallToolRequest, in writeArgs) (*sdk.CallToolResult, writeOut, error) {
			u.record(req)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf("wrote %d bytes to %s", len(in.Content), in.Path)}}},
				writeOut{Bytes: len(in.Content)}, nil
		})
	sdk.AddTool(u.srv, &sdk.Tool{Name: "forbidden", Description: "Never allowed."},
		func(ctx context.Context, req *sdk.CallToolRequest, in struct{}) (*sdk.CallToolResult, any, error) {
			u.record(req)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "done"}}}, nil, nil
		})
	sdk.AddTool(u.srv, &sdk.Tool{Name: "slow", Description: "Reports progress."},
		func(ctx context.Context, req *sdk.CallToolRequest, in struct{}) (*sdk.CallToolResult, any, error) {
			u.record(req)
			if tok := req.Params.GetProgressToken(); tok != nil {
				for i := 1; i <= 2; i++ {
					_ = req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: 2, Message: fmt.Sprintf("step %d", i)})
				}
			}
			if u.release != nil {
				select {
				case <-u.release:
				case <-ctx.Done():
				}
			}
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "slow done"}}}, nil, nil
		})
	u.srv.AddResource(&sdk.Resource{URI: "test://readme", Name: "readme", MIMEType: "text/plain"},
		func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: "read me"}}}, nil
		})
	u.srv.AddPrompt(&sdk.Prompt{Name: "greet", Description: "Say hello."},
		func(ctx context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
			return &sdk.GetPromptResult{Messages: []*sdk.PromptMessage{{Role: "user", Content: &sdk.TextContent{Text: "hello"}}}}, nil
		})
	return u
}

func (u *upstream) record(req *sdk.CallToolRequest) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls = append(u.calls, upstreamCall{Tool: req.Params.Name, Args: string(req.Params.Arguments)})
}

func (u *upstream) called() []upstreamCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upstreamCall(nil), u.calls...)
}

// gateway starts a proxy named "test" in front of u and returns a client
// session on it.
func gateway(t testing.TB, u *upstream, o mcp.ProxyOptions, copts *sdk.ClientOptions) (*mcp.Proxy, *sdk.ClientSession) {
	t.Helper()
	ct, st := sdk.NewInMemoryTransports()
	ss, err := u.srv.Connect(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name == "" {
		o.Name = "test"
	}
	p, err := mcp.NewProxy(testCtx(t), ct, o)
	if err != nil {
		t.Fatal(err)
	}
	cs := connect(t, p.Server(), copts)
	t.Cleanup(func() {
		cs.Close()
		p.Close()
		ss.Wait()
	})
	return p, cs
}

// direct returns a client session straight on u, for comparisons.
func direct(t testing.TB, u *upstream) *sdk.ClientSession {
	t.Helper()
	return connect(t, u.srv, nil)
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
