package mcp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// DefaultHeartbeat is how often a waiting tool call tells the client it is
// alive. Clients commonly give up on a request after 60 s unless progress
// arrives (the TypeScript SDK resets its timeout on progress when asked
// to); 10 s leaves room for a slow network well under that.
const DefaultHeartbeat = 10 * time.Second

// every calls fn every d until stop is called; stop returns only after the
// last call has finished, so nothing is sent after the caller's answer.
func every(ctx context.Context, d time.Duration, fn func(ctx context.Context, elapsed time.Duration)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx, time.Since(start))
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// keepAlive sends heartbeats for a tool call that waits: progress
// notifications when the client sent a progress token, else a log message
// at info level (which the client receives only if it asked for logs).
// what describes the wait ("a decision on req_…"); total is the longest
// the call may wait.
func keepAlive(ctx context.Context, req *sdk.CallToolRequest, interval, total time.Duration, what string) (stop func()) {
	if req == nil || req.Session == nil {
		return func() {}
	}
	token := req.Params.GetProgressToken()
	return every(ctx, interval, func(ctx context.Context, elapsed time.Duration) {
		secs := elapsed.Round(time.Second)
		msg := fmt.Sprintf("waiting for %s (%s of at most %s)", what, secs, total.Round(time.Second))
		if token != nil {
			// Progress must grow with every notification: seconds waited do.
			_ = req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{
				ProgressToken: token, Progress: elapsed.Seconds(), Total: total.Seconds(), Message: msg,
			})
			return
		}
		_ = req.Session.Log(ctx, &sdk.LoggingMessageParams{Level: "info", Logger: "agentgate", Data: msg})
	})
}

// quiet keeps the SDK's own logging to warnings and errors: at info it
// logs every session it opens, which on the stateless HTTP endpoint is
// every request.
func quiet(l *slog.Logger) *slog.Logger { return slog.New(warnOnly{l.Handler()}) }

type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && h.Handler.Enabled(ctx, level)
}
func (h warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{h.Handler.WithAttrs(as)} }
func (h warnOnly) WithGroup(name string) slog.Handler    { return warnOnly{h.Handler.WithGroup(name)} }
