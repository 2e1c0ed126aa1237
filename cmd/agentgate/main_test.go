package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binPath is the agentgate binary built once for the tests that run it.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agentgate-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "agentgate")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build agentgate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a running `agentgate server`.
type proc struct {
	cmd     *exec.Cmd
	url     string
	stdout  *syncBuffer
	stderr  *syncBuffer
	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // set before exited is closed
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs the binary with env and waits until /health answers.
func startServer(t *testing.T, port int, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binPath, "server")
	cmd.Env = append(os.Environ(), append([]string{fmt.Sprintf("PORT=%d", port), "HOST=127.0.0.1", "AGENTGATE_ACCESS_LOG=false"}, env...)...)
	p := &proc{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.kill() })
	for time.Since(start) < 15*time.Second {
		resp, err := http.Get(p.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Logf("server up in %v", time.Since(start).Round(time.Millisecond))
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("server exited: %v\nstderr:\n%s", p.waitErr, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("server did not come up\nstderr:\n%s", p.stderr.String())
	return nil
}

func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Fatalf("server exited with %v after SIGTERM\nstderr:\n%s", p.waitErr, p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop within 15s of SIGTERM")
	}
}

func api(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rdr io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rdr = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rdr)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"_err": err.Error()}
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

var keyRE = regexp.MustCompile(`agk_[A-Za-z0-9_-]{43}`)

func TestFirstStartPrintsKeyOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data", "agentgate.db")
	port := freePort(t)
	p := startServer(t, port, "DATABASE_URL="+db)
	keys := keyRE.FindAllString(p.stdout.String(), -1)
	if len(keys) == 0 {
		t.Fatalf("no admin key printed on first start; stdout:\n%s", p.stdout.String())
	}
	key := keys[0]
	if strings.Contains(p.stderr.String(), key) {
		t.Error("the key appears in the log (stderr)")
	}
	if st, m := api(t, "GET", p.url+"/api/me", key, nil); st != 200 || m["scopes"].([]any)[0] != "admin" {
		t.Fatalf("printed key does not work: %d %v", st, m)
	}
	p.stop(t)
	p2 := startServer(t, port, "DATABASE_URL="+db)
	if keyRE.MatchString(p2.stdout.String()) {
		t.Errorf("second start printed a key again:\n%s", p2.stdout.String())
	}
	if st, _ := api(t, "GET", p2.url+"/api/me", key, nil); st != 200 {
		t.Errorf("key stopped working after restart: %d", st)
	}
}

func TestAdminAPIKeyEnv(t *testing.T) {
	admin := "a-long-admin-secret-1234"
	p := startServer(t, freePort(t), "DATABASE_URL="+filepath.Join(t.TempDir(), "a.db"), "ADMIN_API_KEY="+admin)
	if keyRE.MatchString(p.stdout.String()) {
		t.Error("a key was printed although ADMIN_API_KEY is set")
	}
	if st, m := api(t, "POST", p.url+"/api/keys", admin, map[string]any{"name": "bot", "scopes": []string{"request:create"}}); st != 201 {
		t.Fatalf("ADMIN_API_KEY is not accepted as admin: %d %v", st, m)
	}
	if strings.Contains(p.stderr.String(), admin) {
		t.Error("ADMIN_API_KEY appears in the log")
	}
}

func TestBadConfigFailsClearly(t *testing.T) {
	cmd := exec.Command(binPath, "server")
	cmd.Env = append(os.Environ(), "PORT=99999", "ADMIN_API_KEY=short")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("server started with a bad configuration")
	}
	for _, want := range []string{"PORT must be between", "ADMIN_API_KEY must be at least 16"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
}

// TestCrashKeepsAcknowledgedRequests drives creates, kills the server with
// SIGKILL mid-stream, restarts it, and checks that every request that got
// a 201 exists with its audit event.
func TestCrashKeepsAcknowledgedRequests(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crash.db")
	admin := "crash-test-admin-key-0123"
	port := freePort(t)
	env := []string{"DATABASE_URL=" + db, "ADMIN_API_KEY=" + admin}
	p := startServer(t, port, env...)
	st, m := api(t, "POST", p.url+"/api/keys", admin, map[string]any{"name": "bot", "scopes": []string{"request:create", "request:read"}})
	if st != 201 {
		t.Fatalf("create key: %d %v", st, m)
	}
	agent := m["key"].(string)

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"action":"crash.test","params":{"worker":%d,"i":%d}}`, w, i)
				req, _ := http.NewRequest("POST", p.url+"/api/requests", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+agent)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				var r map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if resp.StatusCode == 201 {
					mu.Lock()
					acked = append(acked, r["id"].(string))
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	p.kill()
	close(stop)
	wg.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d creates acknowledged before the kill", len(acked))
	}
	t.Logf("%d requests acknowledged before SIGKILL", len(acked))

	p2 := startServer(t, port, env...)
	for _, id := range acked {
		st, r := api(t, "GET", p2.url+"/api/requests/"+id, agent, nil)
		if st != 200 || r["status"] != "pending" {
			t.Fatalf("acknowledged request %s after restart: %d %v", id, st, r)
		}
		req, _ := http.NewRequest("GET", p2.url+"/api/requests/"+id+"/audit", nil)
		req.Header.Set("Authorization", "Bearer "+agent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var trail []map[string]any
		_ = json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&trail)
		resp.Body.Close()
		if len(trail) == 0 || trail[0]["eventType"] != "created" {
			t.Fatalf("request %s lost its audit event: %v", id, trail)
		}
	}
	p2.stop(t)
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	admin := "shutdown-test-admin-key-0"
	p := startServer(t, freePort(t), "DATABASE_URL="+filepath.Join(t.TempDir(), "s.db"), "ADMIN_API_KEY="+admin)
	_, m := api(t, "POST", p.url+"/api/keys", admin, map[string]any{"name": "bot", "scopes": []string{"request:create", "request:read"}})
	agent := m["key"].(string)
	_, r := api(t, "POST", p.url+"/api/requests", agent, map[string]any{"action": "x"})
	// A long-poll is in flight when SIGTERM arrives: it gets an answer
	// (the pending request) instead of a reset connection.
	type result struct {
		st     int
		status string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", p.url+"/api/requests/"+r["id"].(string)+"/wait?timeout=30s", nil)
		req.Header.Set("Authorization", "Bearer "+agent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		st, _ := body["status"].(string)
		res <- result{st: resp.StatusCode, status: st}
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	p.stop(t)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %v with a long-poll open", d)
	}
	got := <-res
	if got.err != nil || got.st != 200 || got.status != "pending" {
		t.Errorf("in-flight long-poll: HTTP %d, request status %q, err %v; want 200 with the pending request", got.st, got.status, got.err)
	}
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Error("no shutdown log line")
	}
}

// TestExpiryWhileStopped: requests whose expiry passes while no server runs
// end within seconds of the next start (expired, or the rule's onTimeout
// decision), exactly once.
func TestExpiryWhileStopped(t *testing.T) {
	db := filepath.Join(t.TempDir(), "expiry.db")
	admin := "expiry-test-admin-key-0123"
	port := freePort(t)
	env := []string{"DATABASE_URL=" + db, "ADMIN_API_KEY=" + admin}
	p := startServer(t, port, env...)
	_, m := api(t, "POST", p.url+"/api/keys", admin, map[string]any{"name": "bot", "scopes": []string{"request:create", "request:read"}})
	agent := m["key"].(string)
	if st, m := api(t, "POST", p.url+"/api/policies", admin, map[string]any{"name": "timeouts", "priority": 1, "rules": []any{
		map[string]any{"match": map[string]any{"action": "auto.approve.on.timeout"}, "decision": "route_to_human", "timeout": "1s", "onTimeout": "approve"},
	}}); st != 201 {
		t.Fatalf("policy: %d %v", st, m)
	}
	_, plain := api(t, "POST", p.url+"/api/requests", agent, map[string]any{"action": "plain", "expiresAt": time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)})
	_, timed := api(t, "POST", p.url+"/api/requests", agent, map[string]any{"action": "auto.approve.on.timeout"})
	p.stop(t)
	time.Sleep(2 * time.Second) // both expiries pass while nothing runs

	start := time.Now()
	p2 := startServer(t, port, env...)
	for _, c := range []struct {
		id, want string
	}{{plain["id"].(string), "expired"}, {timed["id"].(string), "approved"}} {
		st, r := api(t, "GET", p2.url+"/api/requests/"+c.id+"/wait?timeout=10s", agent, nil)
		if st != 200 || r["status"] != c.want {
			t.Fatalf("%s after restart: %d %v, want %s", c.id, st, r["status"], c.want)
		}
		if r["decidedByType"] != "system" {
			t.Errorf("%s decided by %v, want the system", c.id, r["decidedByType"])
		}
	}
	t.Logf("both ended %v after the restart began", time.Since(start).Round(time.Millisecond))
	time.Sleep(1500 * time.Millisecond) // more sweeps run: nothing may end twice
	for _, id := range []string{plain["id"].(string), timed["id"].(string)} {
		req, _ := http.NewRequest("GET", p2.url+"/api/requests/"+id+"/audit", nil)
		req.Header.Set("Authorization", "Bearer "+agent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var trail []map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&trail)
		resp.Body.Close()
		ends := 0
		for _, e := range trail {
			if e["eventType"] != "created" {
				ends++
			}
		}
		if ends != 1 {
			t.Errorf("%s has %d end events, want exactly 1: %v", id, ends, trail)
		}
	}
}
