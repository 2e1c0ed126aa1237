// Package ratelimit counts requests in a sliding window, in memory for a
// single process or in Redis for many replicas, behind one interface.
//
// # Semantics
//
// The window is a log: every allowed request is recorded with its time,
// and a request is allowed while fewer than limit requests were recorded
// in the last window. A recorded request counts from its time t until
// t+window (exclusive). Denied requests are not recorded, so a client that
// keeps retrying while denied does not push its own window further out.
//
// Memory is O(limit) per active key in both backends: fine for per-key API
// limits in the hundreds to thousands per minute.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limiter decides whether one more request under a key is allowed.
//
// Implementations are safe for concurrent use. Allow returns an error only
// when the backend cannot answer (Redis unreachable, ctx done); Fallback
// turns such errors into per-process decisions.
type Limiter interface {
	// Allow records a request under key when fewer than limit requests
	// were recorded in the last window, and reports the outcome. limit
	// must be at least 1 and window at least a millisecond.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error)
}

// Result is the outcome of one Allow.
type Result struct {
	// Allowed reports whether the request was within the limit (and so
	// recorded).
	Allowed bool
	// Limit is the limit the request was checked against.
	Limit int
	// Remaining is how many more requests the window allows now.
	Remaining int
	// Reset is the time until the oldest recorded request leaves the
	// window, that is until Remaining next grows. When the request was
	// denied it is the time to wait before retrying.
	Reset time.Duration
}

// ErrInvalid is returned for a limit below 1 or a window below 1 ms.
var ErrInvalid = errors.New("ratelimit: limit must be at least 1 and window at least 1ms")

func validate(limit int, window time.Duration) error {
	if limit < 1 || window < time.Millisecond {
		return fmt.Errorf("%w (got limit %d, window %s)", ErrInvalid, limit, window)
	}
	return nil
}
