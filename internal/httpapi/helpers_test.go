package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/testserver"
)

// send sends one request and returns the response with its body read.
// key, when not empty, goes in "Authorization: Bearer"; body, when not
// nil, is sent as JSON. Extra headers come in pairs.
func send(t testing.TB, client *http.Client, method, url, key string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, out
}

// get is call with GET and no body on the default client.
func get(t testing.TB, url, key string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return send(t, nil, http.MethodGet, url, key, nil, headers...)
}

// errorOf decodes an {"error": "..."} body, failing when it is not one.
func errorOf(t testing.TB, body []byte) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Fatalf("body is not {\"error\": ...}: %s", body)
	}
	return e.Error
}

// createKey creates a key through the API with the given JSON fields and
// returns its id and secret.
func createKey(t testing.TB, s *testserver.Server, fields map[string]any) (id, secret string, rateLimit *int) {
	t.Helper()
	resp, body := send(t, nil, http.MethodPost, s.URL+"/api/keys", s.AdminKey, fields)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create key: %d %s", resp.StatusCode, body)
	}
	var k struct {
		ID        string `json:"id"`
		Key       string `json:"key"` // the secret, shown once
		RateLimit *int   `json:"rateLimit"`
	}
	if err := json.Unmarshal(body, &k); err != nil {
		t.Fatal(err)
	}
	return k.ID, k.Key, k.RateLimit
}

// waitSlotFree waits, at most within, until key may start a long-poll on
// request id again (its per-key slots are freed asynchronously).
func waitSlotFree(t *testing.T, s *testserver.Server, key, id string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, _ := get(t, s.URL+"/api/requests/"+id+"/wait?timeout=0", key)
		if resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("long-poll slot not freed within %s: %d", within, resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
