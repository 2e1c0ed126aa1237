package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/testserver"
)

// TestSlowlorisHeadersCutOff: a client that trickles its request headers
// is disconnected once ReadHeaderTimeout passes, long before it finishes.
func TestSlowlorisHeadersCutOff(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) { c.ReadHeaderTO = timeout }})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	// Trickle one header byte every 20ms: finishing would take 10s.
	header := "X-Slow: " + strings.Repeat("a", 500)
	cut := false
	for i := 0; i < len(header); i++ {
		if _, err := conn.Write([]byte{header[i]}); err != nil {
			cut = true
			break
		}
		time.Sleep(20 * time.Millisecond)
		// The server closes without answering: a read sees EOF or reset.
		_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			cut = true
			break
		}
	}
	elapsed := time.Since(start)
	if !cut {
		t.Fatalf("the server kept a trickling client for %s (ReadHeaderTimeout %s)", elapsed, timeout)
	}
	// The server's clock starts at accept, a moment before ours.
	if elapsed < timeout-50*time.Millisecond {
		t.Fatalf("cut after %s, before ReadHeaderTimeout %s: something else closed it", elapsed, timeout)
	}
	t.Logf("cut after %s (ReadHeaderTimeout %s)", elapsed.Round(time.Millisecond), timeout)
	// The server still serves others.
	if resp, _ := get(t, s.URL+"/health", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("health after the slow client: %d", resp.StatusCode)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// createPending creates a pending request and returns its id.
func createPending(t *testing.T, s *testserver.Server, key string) string {
	t.Helper()
	resp, body := send(t, nil, http.MethodPost, s.URL+"/api/requests", key, map[string]any{"action": "deploy", "params": map[string]any{"env": "prod"}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create request: %d %s", resp.StatusCode, body)
	}
	var req struct{ ID, Status string }
	if err := json.Unmarshal(body, &req); err != nil || req.Status != "pending" {
		t.Fatalf("create request: %s (want pending)", body)
	}
	return req.ID
}

// TestMaxStreamsPerKey: a key holds at most AGENTGATE_MAX_STREAMS_PER_KEY
// long-polls and streams at once; one more gets 429, another key is not
// affected, and the slots free when the streams end.
func TestMaxStreamsPerKey(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) { c.MaxStreams = 2 }})
	agent := s.CreateKey(t, "agent", auth.ScopeRequestCreate, auth.ScopeRequestRead)
	other := s.CreateKey(t, "other", auth.ScopeRequestRead)
	id := createPending(t, s, agent)

	// Two event streams: their headers arrive at once, so both are held
	// (and counted) when openStream returns.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var bodies []io.ReadCloser
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/events", nil)
		req.Header.Set("Authorization", "Bearer "+agent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream: %d", resp.StatusCode)
		}
		bodies = append(bodies, resp.Body)
	}
	// A third (here a long-poll) is refused.
	resp, body := get(t, s.URL+"/api/requests/"+id+"/wait?timeout=0", agent)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: %d Retry-After %q %s, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if msg := errorOf(t, body); !strings.Contains(msg, "at most 2") {
		t.Errorf("error %q", msg)
	}
	if resp, body := get(t, s.URL+"/api/requests/"+id+"/wait?timeout=0", other); resp.StatusCode != http.StatusOK {
		t.Fatalf("another key: %d %s", resp.StatusCode, body)
	}
	// Closing the streams frees the slots (the server notices the close
	// asynchronously: poll, bounded).
	cancel()
	for _, b := range bodies {
		b.Close()
	}
	waitSlotFree(t, s, agent, id, 10*time.Second)
}

// nestedParams returns params holding exactly n keys, some nested.
func nestedParams(n int) map[string]any {
	p := map[string]any{}
	inner := map[string]any{}
	list := []any{}
	p["inner"] = inner
	p["list"] = list
	count := 2
	for i := 0; count < n; i++ {
		switch i % 3 {
		case 0:
			p[fmt.Sprintf("k%d", i)] = i
		case 1:
			inner[fmt.Sprintf("k%d", i)] = "v"
		case 2:
			list = append(list, map[string]any{"x": i})
			p["list"] = list
		}
		count++
	}
	return p
}

func TestInputLimits(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, &testserver.Options{Configure: func(c *config.Config) {
		c.MaxParamsKeys = 50
		c.MaxBodyBytes = 256 << 10
	}})
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	cases := []struct {
		name    string
		method  string
		path    string
		body    any
		want    int
		wantErr string
	}{
		{"params at the key limit", "POST", "/api/requests", map[string]any{"action": "a", "params": nestedParams(50)}, 201, ""},
		{"params over the key limit, counting nested keys", "POST", "/api/requests", map[string]any{"action": "a", "params": nestedParams(51)}, 400, "params must hold at most 50 keys"},
		{"context over the key limit", "POST", "/api/requests", map[string]any{"action": "a", "context": nestedParams(51)}, 400, "context must hold at most 50 keys"},
		{"string at 64 KiB", "POST", "/api/requests", map[string]any{"action": "a", "params": map[string]any{"s": strings.Repeat("x", 64<<10)}}, 201, ""},
		{"string over 64 KiB", "POST", "/api/requests", map[string]any{"action": "a", "params": map[string]any{"s": strings.Repeat("x", 64<<10+1)}}, 400, "longer than 65536 bytes"},
		{"key over 64 KiB", "POST", "/api/requests", `{"action":"a","params":{"` + strings.Repeat("k", 64<<10+1) + `":1}}`, 400, "longer than 65536 bytes"},
		{"nesting deeper than 32", "POST", "/api/requests", `{"action":"a","params":` + deep + `}`, 400, "nesting deeper than 32"},
		{"body over AGENTGATE_MAX_BODY_BYTES", "POST", "/api/requests", `{"action":"a","params":{"s":"` + strings.Repeat("x", 300<<10) + `"}}`, 413, "larger than"},
		{"page size over 100", "GET", "/api/requests?limit=101", nil, 400, "limit must be an integer between 1 and 100"},
		{"negative offset", "GET", "/api/audit?offset=-1", nil, 400, "offset"},
		{"wait timeout over the maximum", "GET", "/api/requests/req_x/wait?timeout=10m", nil, 400, "timeout must be between"},
		{"bad time filter", "GET", "/api/requests?from=yesterday", nil, 400, "from must be an RFC 3339 time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := send(t, nil, tc.method, s.URL+tc.path, s.AdminKey, tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("%d %.300s, want %d", resp.StatusCode, body, tc.want)
			}
			if tc.wantErr != "" {
				if msg := errorOf(t, body); !strings.Contains(msg, tc.wantErr) {
					t.Errorf("error %q, want it to contain %q", msg, tc.wantErr)
				}
			}
		})
	}
}
