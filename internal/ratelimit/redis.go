package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// slidingWindow is the whole check as one script, so that concurrent
// callers on any number of replicas cannot both take the last slot. It
// reads the Redis server's clock (TIME), so replica clock skew does not
// matter. KEYS[1] is the key's sorted set of request times (ms);
// ARGV = window ms, limit, a unique member for this request. It returns
// {allowed 0|1, remaining, reset ms}.
//
// TIME before a write is allowed because Redis 5+ replicates a script's
// effects, not the script.
var slidingWindow = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local at = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  return {0, 0, tonumber(at[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {1, limit - count - 1, tonumber(oldest[2]) + window - now}
`)

// Redis is the Limiter shared by every replica that points at the same
// Redis. Wrap it in Fallback so an outage does not fail requests.
type Redis struct {
	client  redis.Scripter
	prefix  string
	timeout time.Duration
}

// RedisOptions configure a Redis limiter; nil means defaults.
type RedisOptions struct {
	// Prefix starts every key the limiter writes. Defaults to
	// "agentgate:rl:".
	Prefix string
	// Timeout bounds one check, so that a slow Redis degrades to the
	// fallback instead of holding requests. Defaults to 1s: shorter
	// timeouts fired spuriously on a loaded two-core machine.
	Timeout time.Duration
}

// NewRedis returns a limiter on client (a *redis.Client, a cluster or
// ring client all work: the script touches one key).
func NewRedis(client redis.Scripter, opts *RedisOptions) *Redis {
	r := &Redis{client: client, prefix: "agentgate:rl:", timeout: time.Second}
	if opts != nil {
		if opts.Prefix != "" {
			r.prefix = opts.Prefix
		}
		if opts.Timeout > 0 {
			r.timeout = opts.Timeout
		}
	}
	return r
}

var _ Limiter = (*Redis)(nil)

// Allow implements Limiter. Windows are counted in whole milliseconds.
func (r *Redis) Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error) {
	if err := validate(limit, window); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	v, err := slidingWindow.Run(ctx, r.client, []string{r.prefix + key}, window.Milliseconds(), limit, hex.EncodeToString(b)).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(v) != 3 {
		return Result{}, fmt.Errorf("ratelimit: redis: script returned %d values, want 3", len(v))
	}
	return Result{Allowed: v[0] == 1, Limit: limit, Remaining: int(v[1]), Reset: time.Duration(v[2]) * time.Millisecond}, nil
}
