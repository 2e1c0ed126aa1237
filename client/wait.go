package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// WaitOption adjusts one Wait.
type WaitOption func(*waitConfig)

type waitConfig struct {
	longPoll     time.Duration
	pollInterval time.Duration
}

// WaitLongPoll sets how long each long-poll asks the server to hold the
// connection (?timeout=). Shorter polls cost more round trips; longer ones
// are cut by the server's maximum (60s by default), which Wait then
// adopts. Defaults to DefaultLongPoll.
func WaitLongPoll(d time.Duration) WaitOption {
	return func(w *waitConfig) {
		if d > 0 {
			w.longPoll = d
		}
	}
}

// WaitPollInterval overrides the client's poll interval (WithPollInterval)
// for this Wait; it only matters when the server has no long-poll
// endpoint.
func WaitPollInterval(d time.Duration) WaitOption {
	return func(w *waitConfig) {
		if d > 0 {
			w.pollInterval = d
		}
	}
}

// Wait blocks until request id is no longer pending and returns it:
// approved, denied or expired. Only ctx bounds the wait, so give it a
// deadline: a person may take hours.
//
// Wait long-polls GET /api/requests/{id}/wait: the server answers the
// moment the request is decided, or with the still-pending request after
// the poll's timeout, and Wait asks again at once. Failures that are not
// final (dropped connections, a restarting server, 429, 5xx, proxies'
// gateway errors) are retried with backoff for as long as ctx allows.
//
// If the server has no long-poll endpoint (it answers the wait URL with a
// 404 other than "Request not found", like servers before long-polling
// did), Wait falls back to polling GET /api/requests/{id} every poll
// interval for the rest of the call.
//
// When ctx ends first, Wait returns the last state it saw (nil if it saw
// none) together with an error that wraps ctx.Err(), so
// errors.Is(err, context.DeadlineExceeded) tells a timeout.
//
// Errors: ErrNotFound (no such request), ErrUnauthorized, ErrForbidden
// (no request:read), or ctx's error.
func (c *Client) Wait(ctx context.Context, id string, opts ...WaitOption) (*Request, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty request id", ErrInvalid)
	}
	cfg := waitConfig{longPoll: DefaultLongPoll, pollInterval: c.pollInterval}
	for _, opt := range opts {
		opt(&cfg)
	}
	if t := c.hc.Timeout; t > 0 {
		// The HTTP client's own timeout would cut every long-poll.
		cfg.longPoll = min(cfg.longPoll, max(t-5*time.Second, t/2))
	}
	var (
		last     *Request
		polling  bool
		failures int
	)
	for {
		if err := ctx.Err(); err != nil {
			return last, fmt.Errorf("agentgate: wait for %s: %w", id, err)
		}
		var (
			r   *Request
			err error
		)
		if polling {
			r, err = c.pollOnce(ctx, id)
		} else {
			r, err = c.longPollOnce(ctx, id, cfg.longPoll)
		}
		if err == nil {
			failures = 0
			last = r
			if r.Status.Final() {
				return r, nil
			}
			if polling {
				_ = c.sleep(ctx, cfg.pollInterval)
			}
			continue
		}
		if ctx.Err() != nil {
			continue // report the context's error
		}
		var delay time.Duration
		if apiErr, ok := errors.AsType[*APIError](err); ok {
			switch {
			case !polling && apiErr.StatusCode == http.StatusNotFound && apiErr.Message != "Request not found":
				c.log.WarnContext(ctx, "agentgate: the server has no long-poll endpoint; polling instead",
					"request", id, "interval", cfg.pollInterval.String())
				polling = true
				continue
			case !polling && apiErr.StatusCode == http.StatusBadRequest:
				// The server caps long-polls below ours: adopt its cap, or
				// poll if its answer cannot be read.
				if lp := maxWaitOf(apiErr.Message); lp > 0 && lp < cfg.longPoll {
					cfg.longPoll = lp
				} else {
					polling = true
				}
				continue
			case apiErr.StatusCode == http.StatusTooManyRequests:
				delay = apiErr.RetryAfter
			case apiErr.StatusCode >= 500:
			default:
				return last, err // 401, 403, request 404: waiting longer cannot help
			}
		}
		failures++
		if delay <= 0 {
			delay = c.backoff(failures)
		}
		c.log.WarnContext(ctx, "agentgate: waiting for a decision failed; retrying",
			"request", id, "attempt", failures, "delay", delay.String(), "err", err.Error())
		_ = c.sleep(ctx, delay)
	}
}

// longPollOnce asks the server once to answer when id is decided or after
// d, bounded by ctx's deadline.
func (c *Client) longPollOnce(ctx context.Context, id string, d time.Duration) (*Request, error) {
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl).Truncate(time.Millisecond))
	}
	d = max(d, time.Millisecond)
	cl := &call{
		method:   http.MethodGet,
		path:     "/api/requests/" + escape(id) + "/wait",
		query:    url.Values{"timeout": {d.String()}},
		attempts: 1,
		// The server answers within d; give the answer time to arrive.
		timeout: d + 15*time.Second,
	}
	var r Request
	if err := c.do(ctx, cl, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (c *Client) pollOnce(ctx context.Context, id string) (*Request, error) {
	var r Request
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/requests/" + escape(id), attempts: 1}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// maxWaitOf reads the server's long-poll maximum from its 400 answer
// "timeout must be between 0s and 1m0s".
func maxWaitOf(msg string) time.Duration {
	if !strings.HasPrefix(msg, "timeout must be between") {
		return 0
	}
	i := strings.LastIndex(msg, " and ")
	if i < 0 {
		return 0
	}
	d, err := time.ParseDuration(strings.TrimSpace(msg[i+len(" and "):]))
	if err != nil {
		return 0
	}
	return d
}

// RequestAndWait asks for approval and waits for the decision: Request,
// then Wait unless a policy decided at once. It returns the final request;
// check r.Approved() before acting. On a ctx timeout it returns the
// pending request and an error wrapping context.DeadlineExceeded.
//
// To survive a restart of the agent between asking and the answer, set
// in.IdempotencyKey to something stable: calling RequestAndWait again
// with it finds the same request instead of asking twice.
func (c *Client) RequestAndWait(ctx context.Context, in RequestInput, opts ...WaitOption) (*Request, error) {
	r, err := c.Request(ctx, in)
	if err != nil {
		return nil, err
	}
	if r.Status.Final() {
		return r, nil
	}
	w, err := c.Wait(ctx, r.ID, opts...)
	if err != nil {
		if w == nil {
			w = r
		}
		return w, err
	}
	return w, nil
}
