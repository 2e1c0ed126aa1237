// Command loadgen drives an AgentGate server on loopback and reports
// throughput, latency percentiles, errors, and the server's CPU time and
// peak RSS. It starts the server itself (a fresh database each run) unless
// -url is given.
//
//	go build -o /tmp/agentgate ./cmd/agentgate
//	go run ./bench/loadgen -bin /tmp/agentgate -scenario create -c 16 -d 10s
//	go run ./bench/loadgen -bin /tmp/agentgate -db postgres://... -scenario create
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	bin, url, db, adminKey string
	scenario               string
	concurrency            int
	duration               time.Duration
	rows                   int
	waiters                int
	jsonOut                bool
	replicas               int
	replicaCPUs            float64
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "agentgate binary to start (required unless -url)")
	flag.StringVar(&o.url, "url", "", "use a running server at this URL instead of starting one")
	flag.StringVar(&o.adminKey, "admin-key", "loadgen-admin-key-0123456789", "admin credential (ADMIN_API_KEY of the started server)")
	flag.StringVar(&o.db, "db", "", "DATABASE_URL for the started server (default: a new SQLite file)")
	flag.StringVar(&o.scenario, "scenario", "create", "create | create-auto | get | list | roundtrip | waiters | idle")
	flag.IntVar(&o.concurrency, "c", 16, "concurrent workers")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "measurement duration")
	flag.IntVar(&o.rows, "rows", 10000, "pending rows present for the list scenario")
	flag.IntVar(&o.waiters, "waiters", 1000, "concurrent waiters for the waiters and roundtrip scenarios")
	flag.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	flag.IntVar(&o.replicas, "replicas", 1, "server processes to start on the same database (PostgreSQL); workers spread over them")
	flag.Float64Var(&o.replicaCPUs, "replica-cpus", 0, "CPU limit of each started server (cgroup quota, like a pod's limit; 0 = none; Linux, root)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// server is a started agentgate process.
type server struct {
	cmd   *exec.Cmd
	url   string
	start time.Duration // from exec to a healthy /health
	dir   string
	limit *cpuLimit // nil: no CPU limit
}

func startServer(o options, n int) (*server, error) {
	dir, err := os.MkdirTemp("", "loadgen")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	db := o.db
	if db == "" {
		db = filepath.Join(dir, "agentgate.db")
	}
	argv := []string{o.bin, "server"}
	var limit *cpuLimit
	if o.replicaCPUs > 0 {
		if limit, err = newCPULimit(fmt.Sprintf("loadgen-%d-%d", os.Getpid(), n), o.replicaCPUs); err != nil {
			return nil, err
		}
		argv = limit.wrap(argv)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+strconv.Itoa(port), "DATABASE_URL="+db,
		"ADMIN_API_KEY="+o.adminKey, "AGENTGATE_ACCESS_LOG=false", "AGENTGATE_LOG_LEVEL=warn",
		"AGENTGATE_MAX_STREAMS_PER_KEY=0")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	s := &server{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, limit: limit}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		if limit != nil {
			limit.remove()
		}
		return nil, err
	}
	for time.Since(t0) < 30*time.Second {
		resp, err := http.Get(s.url + "/health")
		if err == nil {
			resp.Body.Close()
			s.start = time.Since(t0)
			return s, nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.stop()
	return nil, errors.New("server did not start")
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	os.RemoveAll(s.dir)
	if s.limit != nil {
		s.limit.remove()
	}
}

// procStats reads the server's CPU seconds and RSS from /proc.
func procStats(pid int) (cpu time.Duration, rssKB, hwmKB int64) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		if len(f) > 13 {
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			var v int64
			if n, _ := fmt.Sscanf(line, "VmRSS: %d kB", &v); n == 1 {
				rssKB = v
			}
			if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &v); n == 1 {
				hwmKB = v
			}
		}
	}
	return
}

type client struct {
	http *http.Client
	url  string
}

func (c *client) do(ctx context.Context, method, path, key string, body []byte) (int, []byte, error) {
	var rdr io.Reader
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rdr)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (c *client) mustJSON(ctx context.Context, method, path, key string, body any, want int) map[string]any {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	st, out, err := c.do(ctx, method, path, key, b)
	if err != nil || st != want {
		fmt.Fprintf(os.Stderr, "loadgen: %s %s: %d %v %s\n", method, path, st, err, out)
		os.Exit(1)
	}
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return m
}

// Result is one scenario's outcome.
type Result struct {
	Scenario    string  `json:"scenario"`
	Database    string  `json:"database"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Ops         int64   `json:"ops"`
	Errors      int64   `json:"errors"`
	OpsPerSec   float64 `json:"opsPerSec"`
	P50ms       float64 `json:"p50ms"`
	P95ms       float64 `json:"p95ms"`
	P99ms       float64 `json:"p99ms"`
	ServerCPUs  float64 `json:"serverCpuSeconds"`
	ServerRSSMB float64 `json:"serverRssMB"`
	PeakRSSMB   float64 `json:"serverPeakRssMB"`
	StartupMs   float64 `json:"startupMs,omitempty"`
	Note        string  `json:"note,omitempty"`
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}

func run(o options) error {
	var srv *server
	var servers []*server
	if o.url == "" {
		if o.bin == "" {
			return errors.New("-bin or -url is required")
		}
		if o.replicas > 1 && !strings.HasPrefix(o.db, "postgres") {
			return errors.New("-replicas needs a PostgreSQL -db")
		}
		for i := range max(1, o.replicas) {
			s, err := startServer(o, i)
			if err != nil {
				return err
			}
			defer s.stop()
			servers = append(servers, s)
		}
		srv = servers[0]
		o.url = srv.url
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 20000, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	c := &client{http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, url: o.url}
	clients := []*client{c}
	for _, s := range servers[min(1, len(servers)):] {
		clients = append(clients, &client{http: c.http, url: s.url})
	}
	// cl spreads the workers over the replicas.
	cl := func(worker int) *client { return clients[worker%len(clients)] }
	cpuAll := func() (cpu time.Duration, rss, hwm int64) {
		for _, s := range servers {
			c, r, h := procStats(s.cmd.Process.Pid)
			cpu += c
			rss, hwm = rss+r, max(hwm, h)
		}
		return
	}
	ctx := context.Background()
	agent := c.mustJSON(ctx, "POST", "/api/keys", o.adminKey, map[string]any{"name": "loadgen-agent", "scopes": []string{"request:create", "request:read"}}, 201)["key"].(string)
	human := c.mustJSON(ctx, "POST", "/api/keys", o.adminKey, map[string]any{"name": "loadgen-human", "scopes": []string{"request:decide", "request:read"}}, 201)["key"].(string)
	dbName := "sqlite"
	if strings.HasPrefix(o.db, "postgres") {
		dbName = "postgres"
	}
	res := Result{Scenario: o.scenario, Database: dbName, Concurrency: o.concurrency}
	if srv != nil {
		res.StartupMs = float64(srv.start.Microseconds()) / 1000
	}
	body := []byte(`{"action":"send_email","params":{"to":"customer@example.com","subject":"Your order shipped","amount":42.5},"context":{"agent":"support-bot","run":"r-1"},"urgency":"normal"}`)

	var op func(ctx context.Context, worker int, i int64) error
	switch o.scenario {
	case "create":
		op = func(ctx context.Context, w int, _ int64) error {
			return expect(cl(w).do(ctx, "POST", "/api/requests", agent, body))(201)
		}
	case "create-auto":
		c.mustJSON(ctx, "POST", "/api/policies", o.adminKey, map[string]any{"name": "auto", "priority": 1,
			"rules": []any{map[string]any{"match": map[string]any{"action": "send_email", "params.to": map[string]any{"$regex": "@example\\.com$"}}, "decision": "auto_approve"}}}, 201)
		op = func(ctx context.Context, _ int, _ int64) error {
			return expect(c.do(ctx, "POST", "/api/requests", agent, body))(201)
		}
	case "get":
		id := c.mustJSON(ctx, "POST", "/api/requests", agent, json.RawMessage(body), 201)["id"].(string)
		op = func(ctx context.Context, w int, _ int64) error {
			return expect(cl(w).do(ctx, "GET", "/api/requests/"+id, agent, nil))(200)
		}
	case "list":
		fill(ctx, c, agent, body, o.rows)
		op = func(ctx context.Context, _ int, _ int64) error {
			return expect(c.do(ctx, "GET", "/api/requests?status=pending&limit=50", agent, nil))(200)
		}
	case "roundtrip":
		return roundtrip(ctx, c, o, agent, human, body, srv, res)
	case "waiters":
		return waiters(ctx, c, o, agent, human, body, srv, res)
	case "idle":
		time.Sleep(o.duration)
		if srv != nil {
			cpu, rss, hwm := procStats(srv.cmd.Process.Pid)
			res.ServerCPUs, res.ServerRSSMB, res.PeakRSSMB = cpu.Seconds(), float64(rss)/1024, float64(hwm)/1024
		}
		return report(o, res)
	default:
		return fmt.Errorf("unknown scenario %q", o.scenario)
	}

	// Warm up briefly so connection setup is not measured.
	load(ctx, o.concurrency, time.Second, op)
	var cpu0 time.Duration
	if srv != nil {
		cpu0, _, _ = cpuAll()
	}
	lat, errs, elapsed := load(ctx, o.concurrency, o.duration, op)
	slices.Sort(lat)
	res.Seconds = elapsed.Seconds()
	res.Ops = int64(len(lat))
	res.Errors = errs
	res.OpsPerSec = float64(len(lat)) / elapsed.Seconds()
	res.P50ms, res.P95ms, res.P99ms = percentile(lat, .50), percentile(lat, .95), percentile(lat, .99)
	if srv != nil {
		cpu, rss, hwm := cpuAll()
		res.ServerCPUs, res.ServerRSSMB, res.PeakRSSMB = (cpu - cpu0).Seconds(), float64(rss)/1024, float64(hwm)/1024
	}
	if len(servers) > 1 {
		res.Note = fmt.Sprintf("%d replicas on one PostgreSQL (CPU summed, RSS summed, peak is the largest)", len(servers))
	}
	if o.replicaCPUs > 0 {
		res.Note = strings.TrimPrefix(res.Note+fmt.Sprintf("; each server limited to %g CPU", o.replicaCPUs), "; ")
	}
	return report(o, res)
}

func expect(st int, body []byte, err error) func(want int) error {
	return func(want int) error {
		if err != nil {
			return err
		}
		if st != want {
			return fmt.Errorf("status %d: %s", st, body)
		}
		return nil
	}
}

func fill(ctx context.Context, c *client, agent string, body []byte, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := expect(c.do(ctx, "POST", "/api/requests", agent, body))(201); err != nil {
					fmt.Fprintln(os.Stderr, "loadgen: fill:", err)
					os.Exit(1)
				}
			}
		})
	}
	wg.Wait()
}

// load runs op from n workers for d and returns every successful latency.
func load(ctx context.Context, n int, d time.Duration, op func(context.Context, int, int64) error) ([]time.Duration, int64, time.Duration) {
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs atomic.Int64
		seq  atomic.Int64
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	var firstErr atomic.Value
	for w := range n {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := op(ctx, w, seq.Add(1)); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "loadgen: first error:", e)
	}
	return all, errs.Load(), time.Since(start)
}

// roundtrip: agents create and wait (long-poll) while a decider approves;
// the latency is from the decide call returning to the agent seeing the
// decision.
func roundtrip(ctx context.Context, c *client, o options, agent, human string, body []byte, srv *server, res Result) error {
	n := o.waiters
	type job struct {
		id      string
		decided chan time.Time
	}
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = job{id: c.mustJSON(ctx, "POST", "/api/requests", agent, json.RawMessage(body), 201)["id"].(string), decided: make(chan time.Time, 1)}
	}
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var errs atomic.Int64
	var watching atomic.Int64
	for i := range jobs {
		wg.Go(func() {
			watching.Add(1)
			st, out, err := c.do(ctx, "GET", "/api/requests/"+jobs[i].id+"/wait?timeout=60s", agent, nil)
			seen := time.Now()
			if err != nil || st != 200 || !bytes.Contains(out, []byte(`"status":"approved"`)) {
				errs.Add(1)
				return
			}
			lat[i] = seen.Sub(<-jobs[i].decided)
		})
	}
	for watching.Load() < int64(n) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let every long-poll reach the server
	start := time.Now()
	var dwg sync.WaitGroup
	var next atomic.Int64
	for range o.concurrency {
		dwg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				st, _, err := c.do(ctx, "POST", "/api/requests/"+jobs[i].id+"/decide", human, []byte(`{"decision":"approved","reason":"bench"}`))
				jobs[i].decided <- time.Now()
				if err != nil || st != 200 {
					errs.Add(1)
				}
			}
		})
	}
	dwg.Wait()
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	res.Ops, res.Errors, res.Seconds = int64(n), errs.Load(), elapsed.Seconds()
	res.OpsPerSec = float64(n) / elapsed.Seconds()
	res.P50ms, res.P95ms, res.P99ms = percentile(lat, .50), percentile(lat, .95), percentile(lat, .99)
	res.Note = fmt.Sprintf("%d waiters; latency = agent sees the decision minus the decide call returning", n)
	if srv != nil {
		_, rss, hwm := procStats(srv.cmd.Process.Pid)
		res.ServerRSSMB, res.PeakRSSMB = float64(rss)/1024, float64(hwm)/1024
	}
	return report(o, res)
}

// waiters holds o.waiters long-polls open and reports the server's memory.
func waiters(ctx context.Context, c *client, o options, agent, human string, body []byte, srv *server, res Result) error {
	id := c.mustJSON(ctx, "POST", "/api/requests", agent, json.RawMessage(body), 201)["id"].(string)
	var rss0 int64
	if srv != nil {
		_, rss0, _ = procStats(srv.cmd.Process.Pid)
	}
	var wg sync.WaitGroup
	var ok, errs atomic.Int64
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range o.waiters {
		wg.Go(func() {
			st, out, err := c.do(wctx, "GET", "/api/requests/"+id+"/wait?timeout=60s", agent, nil)
			if err == nil && st == 200 && bytes.Contains(out, []byte(`"approved"`)) {
				ok.Add(1)
			} else {
				errs.Add(1)
			}
		})
	}
	// Let every waiter connect, then measure the server holding them.
	time.Sleep(min(o.duration, 20*time.Second))
	if srv != nil {
		cpu, rss, hwm := procStats(srv.cmd.Process.Pid)
		res.ServerCPUs, res.ServerRSSMB, res.PeakRSSMB = cpu.Seconds(), float64(rss)/1024, float64(hwm)/1024
	}
	t0 := time.Now()
	c.mustJSON(ctx, "POST", "/api/requests/"+id+"/decide", human, map[string]any{"decision": "approved"}, 200)
	wg.Wait()
	res.Seconds = time.Since(t0).Seconds()
	res.Ops, res.Errors = ok.Load(), errs.Load()
	res.Note = fmt.Sprintf("%d concurrent long-polls on one request; RSS before them %.1f MB; all woken by one decision in %.0f ms",
		o.waiters, float64(rss0)/1024, res.Seconds*1000)
	return report(o, res)
}

func report(o options, r Result) error {
	if o.jsonOut {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	fmt.Printf("scenario=%s db=%s c=%d ops=%d errors=%d ops/s=%.0f p50=%.2fms p95=%.2fms p99=%.2fms server_cpu=%.1fs rss=%.1fMB peak_rss=%.1fMB startup=%.0fms %s\n",
		r.Scenario, r.Database, r.Concurrency, r.Ops, r.Errors, r.OpsPerSec, r.P50ms, r.P95ms, r.P99ms, r.ServerCPUs, r.ServerRSSMB, r.PeakRSSMB, r.StartupMs, r.Note)
	return nil
}
