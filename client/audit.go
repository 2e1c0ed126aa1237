package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ChainReport is the result of verifying the audit trail's hash chain
// (VerifyAudit).
type ChainReport struct {
	// OK is true when every sealed event links to the previous one and
	// the chain reaches the recorded head.
	OK       bool   `json:"ok"`
	Checked  int64  `json:"checked"`  // sealed events verified
	HeadSeq  int64  `json:"headSeq"`  // the recorded head of the chain
	HeadHash string `json:"headHash"` // its hash
	// Unsealed counts the newest events, not yet sealed into the chain
	// (the server seals them within seconds).
	Unsealed int64         `json:"unsealed"`
	Problem  *ChainProblem `json:"problem,omitempty"` // the first break, when not OK
}

// ChainProblem locates the first break of the audit chain.
type ChainProblem struct {
	Seq     int64  `json:"seq"`               // the first sequence number that fails
	EventID string `json:"eventId,omitempty"` // its event id; "" when the event is missing
	Reason  string `json:"reason"`            // what is wrong: modified, deleted, reordered
}

// verifyTimeout bounds a VerifyAudit attempt: the server walks the whole
// chain, which takes longer than an ordinary call on a large trail.
const verifyTimeout = 10 * time.Minute

// VerifyAudit asks the server to walk the audit trail's hash chain and
// report the first event that was modified, deleted or reordered. A broken
// chain is not an error: the report says OK false and where it breaks.
//
// Errors: ErrUnauthorized, ErrForbidden (no request:read).
func (c *Client) VerifyAudit(ctx context.Context) (*ChainReport, error) {
	var rep ChainReport
	cl := &call{method: http.MethodGet, path: "/api/audit/verify", timeout: max(c.timeout, verifyTimeout)}
	if err := c.do(ctx, cl, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// ExportAudit writes the sealed audit trail to w as JSON Lines, one event
// per line in chain order, exactly as the server sends it, and returns the
// number of bytes written. Every line carries the fields its hash covers,
// so the file verifies offline (`agentgate audit verify -f FILE`). It needs
// an admin key.
//
// The call is retried like any read until the server starts answering;
// once bytes have reached w it is not, since w cannot be rewound. Only ctx
// bounds the transfer. A server that fails mid-export ends the stream
// early without an error status: verify the file, or compare its last seq
// with VerifyAudit's HeadSeq.
//
// Errors: ErrUnauthorized, ErrForbidden (not admin), ErrUnreachable.
func (c *Client) ExportAudit(ctx context.Context, w io.Writer) (int64, error) {
	cl := &call{method: http.MethodGet, path: "/api/audit/export",
		header: http.Header{"Accept": {"application/x-ndjson"}}}
	resp, err := c.open(ctx, cl)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return n, fmt.Errorf("agentgate: %s: %w", cl.name(), ctx.Err())
		}
		return n, fmt.Errorf("agentgate: %s: after %d bytes: %w", cl.name(), n, err)
	}
	return n, nil
}

// open sends cl, retrying like send, until the server answers 2xx, and
// returns that answer with its body unread, for streamed downloads. No
// per-attempt timeout applies: ctx bounds the call.
func (c *Client) open(ctx context.Context, cl *call) (*http.Response, error) {
	reqID := newToken()[:24]
	for n := 1; ; n++ {
		resp, retry, wait, err := c.openOnce(ctx, cl, reqID)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctxError(ctx, cl, err)
		}
		if !retry || n >= c.maxAttempts {
			return nil, err
		}
		if wait <= 0 {
			wait = c.backoff(n)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, err
		}
		c.log.DebugContext(ctx, "agentgate: retrying", "call", cl.name(), "attempt", n+1, "delay", wait.String(), "err", err.Error())
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, ctxError(ctx, cl, err)
		}
	}
}

func (c *Client) openOnce(ctx context.Context, cl *call, reqID string) (resp *http.Response, retry bool, wait time.Duration, err error) {
	req, err := c.newRequest(ctx, cl, reqID)
	if err != nil {
		return nil, false, 0, err
	}
	resp, err = c.hc.Do(req)
	if err != nil {
		return nil, c.retryNetError(ctx, cl, err), 0, c.netError(cl, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, false, 0, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	apiErr := newAPIError(cl.method, cl.path, resp, body)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return nil, idempotentMethod(cl.method), apiErr.RetryAfter, apiErr
	case http.StatusInternalServerError:
		return nil, idempotentMethod(cl.method), 0, apiErr
	}
	return nil, false, 0, apiErr
}
