// Command ratelimit is the rate limiter's load test. It starts a full
// AgentGate server on loopback (a temporary SQLite file; the limiter in
// memory, or in Redis with -redis), hammers one key limited to -limit
// requests per minute from -workers goroutines, and meanwhile probes the
// API with another key to measure how responsive the server stays.
//
//	go run ./bench/ratelimit                          # in-memory limiter
//	go run ./bench/ratelimit -redis redis://127.0.0.1:6379/0
//
// It checks that the hammered key got exactly the allowed number of 2xx
// (per sliding window) and only 429 beyond, and prints the probe's
// latency percentiles before and during the hammering. It exits 1 when a
// check fails. It only ever sends traffic to 127.0.0.1, and stops by
// itself after -baseline + -duration.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
)

func main() {
	var (
		workers   = flag.Int("workers", 16, "goroutines hammering the limited key")
		limit     = flag.Int("limit", 600, "the hammered key's rate limit, requests per minute")
		duration  = flag.Duration("duration", 20*time.Second, "how long to hammer (at most 10m)")
		baseline  = flag.Duration("baseline", 5*time.Second, "how long to probe before hammering")
		probeRate = flag.Int("probe-rate", 50, "probe requests per second with the other key")
		redisURL  = flag.String("redis", "", "REDIS_URL for the limiter; empty: in memory")
	)
	flag.Parse()
	if *duration <= 0 || *duration > 10*time.Minute || *workers < 1 || *limit < 1 || *probeRate < 1 {
		fmt.Fprintln(os.Stderr, "ratelimit: bad flags")
		os.Exit(2)
	}
	if err := run(*workers, *limit, *duration, *baseline, *probeRate, *redisURL); err != nil {
		fmt.Fprintln(os.Stderr, "ratelimit:", err)
		os.Exit(1)
	}
}

func run(workers, limit int, duration, baseline time.Duration, probeRate int, redisURL string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "agentgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	cfg, err := config.Load()
	if err != nil {
		return err
	}
	cfg.DatabaseURL = filepath.Join(dir, "bench.db")
	cfg.Host, cfg.Port = "127.0.0.1", 0
	cfg.AccessLog = false
	cfg.RedisURL = redisURL
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, log, io.Discard)
	if err != nil {
		return err
	}
	defer a.Close()
	admin := approval.Actor{ID: "bench", Name: "bench", Type: approval.ActorHuman}
	_, hammered, err := a.Auth.CreateKey(ctx, admin, auth.KeyInput{Name: "hammered", Scopes: []auth.Scope{auth.ScopeRequestRead}, RateLimit: &limit})
	if err != nil {
		return err
	}
	_, prober, err := a.Auth.CreateKey(ctx, admin, auth.KeyInput{Name: "prober", Scopes: []auth.Scope{auth.ScopeRequestCreate, auth.ScopeRequestRead}, Unlimited: true})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	// Some requests for the probe's list to return.
	for i := range 20 {
		in := approval.CreateInput{Action: fmt.Sprintf("bench.action%d", i), Params: map[string]any{"i": i}}
		if _, _, err := a.Approvals.Create(ctx, approval.Actor{ID: "bench", Name: "bench", Type: approval.ActorAgent}, in); err != nil {
			return err
		}
	}

	backend := "memory"
	if redisURL != "" {
		backend = "redis"
	}
	fmt.Printf("limiter=%s workers=%d limit=%d/min duration=%s probe=%d/s GOMAXPROCS=%d\n",
		backend, workers, limit, duration, probeRate, runtime.GOMAXPROCS(0))

	probeURL := base + "/api/requests?limit=20"
	before := probe(probeURL, prober, probeRate, baseline)
	fmt.Printf("probe before hammering: %s\n", before)

	hammerCtx, stopHammer := context.WithTimeout(ctx, duration)
	defer stopHammer()
	var probeDuring latencies
	var pwg sync.WaitGroup
	pwg.Go(func() { probeDuring = probe(probeURL, prober, probeRate, duration) })
	res := hammer(hammerCtx, base+"/api/me", hammered, workers)
	pwg.Wait()

	fmt.Printf("hammered key: %d requests in %s (%.0f req/s): %d 2xx, %d 429, %d other\n",
		res.total(), duration, float64(res.total())/duration.Seconds(), len(res.okTimes), res.limited, res.other)
	fmt.Printf("probe during hammering: %s\n", probeDuring)

	cancel()
	if err := <-served; err != nil {
		return err
	}
	return res.check(limit, duration)
}

type hammerResult struct {
	okTimes []time.Duration // since start, when each 2xx arrived
	limited int64
	other   int64
}

func (h *hammerResult) total() int64 { return int64(len(h.okTimes)) + h.limited + h.other }

// check verifies the limit: within any one window at most limit 2xx (with
// a second's slack for client-side timing), and exactly limit when the
// run is shorter than a window.
func (h *hammerResult) check(limit int, d time.Duration) error {
	if h.other > 0 {
		return fmt.Errorf("%d responses were neither 2xx nor 429", h.other)
	}
	slices.Sort(h.okTimes)
	const window = time.Minute
	for i := 0; i+limit < len(h.okTimes); i++ {
		if gap := h.okTimes[i+limit] - h.okTimes[i]; gap < window-time.Second {
			return fmt.Errorf("%d 2xx within %s: more than the limit of %d per minute", limit+1, gap, limit)
		}
	}
	if d < window && len(h.okTimes) != limit {
		return fmt.Errorf("%d 2xx in %s, want exactly %d", len(h.okTimes), d, limit)
	}
	var perWindow []int
	for _, t := range h.okTimes {
		for len(perWindow) <= int(t/window) {
			perWindow = append(perWindow, 0)
		}
		perWindow[t/window]++
	}
	fmt.Printf("check passed: %d 2xx (per minute since start: %v), at most %d in any window\n", len(h.okTimes), perWindow, limit)
	return nil
}

func hammer(ctx context.Context, url, key string, workers int) *hammerResult {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	var mu sync.Mutex
	res := &hammerResult{}
	var limited, other atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						other.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode >= 200 && resp.StatusCode < 300:
					mine = append(mine, time.Since(start))
				case resp.StatusCode == http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
			mu.Lock()
			res.okTimes = append(res.okTimes, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.limited, res.other = limited.Load(), other.Load()
	return res
}

type latencies struct {
	d      []time.Duration
	errors int
}

func (l latencies) String() string {
	if len(l.d) == 0 {
		return fmt.Sprintf("no answers (%d errors)", l.errors)
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	pct := func(p float64) time.Duration { return s[min(len(s)-1, int(float64(len(s))*p))] }
	return fmt.Sprintf("n=%d errors=%d p50=%s p90=%s p99=%s max=%s", len(s), l.errors,
		pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), s[len(s)-1].Round(10*time.Microsecond))
}

// probe sends rate requests per second to url for d, one at a time on
// its own connection pool, and returns their latencies (non-2xx count as
// errors).
func probe(url, key string, rate int, d time.Duration) latencies {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.After(d)
	var out latencies
	for {
		select {
		case <-end:
			return out
		case <-tick.C:
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				out.errors++
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				out.errors++
				continue
			}
			out.d = append(out.d, time.Since(t0))
		}
	}
}
