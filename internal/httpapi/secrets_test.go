package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/testserver"
)

// TestNoSecretsInLogsOrMetrics runs a whole server session that touches
// every route, with good, bad, revoked and misplaced credentials, and
// then searches everything the server logged (access log on, debug level)
// and its /metrics output for API keys and webhook secrets.
func TestNoSecretsInLogsOrMetrics(t *testing.T) {
	t.Parallel()
	const envAdmin = "env-admin-secret-0123456789"
	var logs syncBuffer
	s := testserver.Start(t, &testserver.Options{Log: &logs, Configure: func(c *config.Config) {
		c.AccessLog = true
		c.AdminAPIKey = envAdmin
		c.AuthFailureLimit = 5
		// Failed authentications come from many "clients" (X-Forwarded-For)
		// so that only the last burst trips the throttle.
		c.TrustedProxies = []string{"127.0.0.1"}
		c.WebhookAllowPrivate = true // the receivers below are on loopback
		c.WebhookRetryBase = 10 * time.Millisecond
	}})
	secrets := []string{s.AdminKey, envAdmin}
	keyID, agent, _ := createKey(t, s, map[string]any{"name": "agent", "scopes": []string{"request:create", "request:read"}, "rateLimit": 1000})
	_, approver, _ := createKey(t, s, map[string]any{"name": "approver", "scopes": []string{"request:read", "request:decide"}})
	revokedID, revoked, _ := createKey(t, s, map[string]any{"name": "revoked", "scopes": []string{"request:read"}})
	secrets = append(secrets, agent, approver, revoked)
	if resp, body := send(t, nil, http.MethodDelete, s.URL+"/api/keys/"+revokedID, s.AdminKey, nil); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	bad := auth.GenerateKey()
	secrets = append(secrets, bad)

	// A request whose params and idempotency key hold secrets.
	resp, body := send(t, nil, http.MethodPost, s.URL+"/api/requests", agent,
		map[string]any{"action": "deploy", "params": map[string]any{"token": agent, "hook": "whsec_abcdefabcdefabcdef"}},
		"Idempotency-Key", agent, "X-Request-Id", agent)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(body, &created)
	resp, body = send(t, nil, http.MethodPost, s.URL+"/api/policies", s.AdminKey, map[string]any{
		"name": "p", "rules": []any{map[string]any{"match": map[string]any{"action": "never"}, "decision": "auto_deny"}}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create policy: %d %s", resp.StatusCode, body)
	}
	var pol struct{ ID string }
	_ = json.Unmarshal(body, &pol)
	// Webhooks: one with a server-made secret to a receiver that accepts,
	// one with a chosen secret to a receiver that fails (retries log).
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(ok.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	t.Cleanup(failing.Close)
	chosen := "whsec_chosen0123456789abcdefABCDEF"
	secrets = append(secrets, chosen)
	var hookID string
	for _, body := range []map[string]any{
		{"url": ok.URL + "/hook", "events": []string{"*"}},
		{"url": failing.URL + "/hook?token=" + chosen, "events": []string{"*"}, "secret": chosen},
	} {
		resp, b := send(t, nil, http.MethodPost, s.URL+"/api/webhooks", s.AdminKey, body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create webhook: %d %s", resp.StatusCode, b)
		}
		var wh struct{ ID, Secret string }
		_ = json.Unmarshal(b, &wh)
		if !strings.HasPrefix(wh.Secret, "whsec_") {
			t.Fatalf("webhook secret %q", wh.Secret)
		}
		secrets = append(secrets, wh.Secret)
		hookID = wh.ID
	}
	resp, body = send(t, nil, http.MethodPatch, s.URL+"/api/webhooks/"+hookID, s.AdminKey, map[string]any{"rotateSecret": true})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d %s", resp.StatusCode, body)
	}
	var rotated struct{ Secret string }
	_ = json.Unmarshal(body, &rotated)
	if rotated.Secret != "" {
		secrets = append(secrets, rotated.Secret)
	}
	send(t, nil, http.MethodPost, s.URL+"/api/webhooks/"+hookID+"/test", s.AdminKey, nil)

	ids := map[string]string{"/api/requests/": created.ID, "/api/policies/": pol.ID, "/api/keys/": keyID, "/api/api-keys/": keyID,
		"/api/webhooks/": hookID}

	n := 0
	nextClient := func() string { n++; return fmt.Sprintf("198.51.100.%d", n%250+1) }
	// Misplaced and broken credentials.
	for _, h := range [][]string{
		{"Authorization", "Bearer " + revoked},
		{"Authorization", "Bearer " + bad},
		{"Authorization", "Bearer " + agent[:20]},
		{"Authorization", "Basic " + agent},
		{"Authorization", agent},
		{"X-Api-Key", agent},
		{"X-Request-Id", s.AdminKey},
	} {
		get(t, s.URL+"/api/me", "", append(h, "X-Forwarded-For", nextClient())...)
	}
	get(t, s.URL+"/api/requests?api_key="+agent+"&token=whsec_abcdef", "")
	get(t, s.URL+"/api/requests/"+agent, s.AdminKey)

	// Every route: without a key, with a bad key, and with keys that may
	// use it (bodies are {} so most writes fail validation).
	for _, rt := range s.App.API.Routes() {
		path := rt.Pattern
		for prefix, id := range ids {
			if strings.HasPrefix(path, prefix) {
				path = strings.Replace(path, "{id}", id, 1)
			}
		}
		path = strings.Replace(path, "{id}", created.ID, 1)
		var reqBody any
		if rt.Method == http.MethodPost || rt.Method == http.MethodPut || rt.Method == http.MethodPatch {
			reqBody = map[string]any{}
		}
		if strings.HasSuffix(path, "/wait") {
			path += "?timeout=0"
		}
		if path == "/api/events" {
			streamBriefly(t, s.URL+path, s.AdminKey)
			continue
		}
		for _, key := range []string{"", bad, agent, approver, s.AdminKey, envAdmin} {
			if rt.Method == http.MethodDelete && key != "" && key != bad && key != agent {
				continue // keep the objects for the other calls
			}
			send(t, nil, rt.Method, s.URL+path, key, reqBody, "X-Forwarded-For", nextClient())
		}
	}
	// Happy paths that log: decide, then the failures after it.
	send(t, nil, http.MethodPost, s.URL+"/api/requests/"+created.ID+"/decide", approver,
		map[string]any{"decision": "approved", "reason": "ok " + approver})
	send(t, nil, http.MethodPost, s.URL+"/api/requests/"+created.ID+"/decide", approver, map[string]any{"decision": "denied"})
	send(t, nil, http.MethodPost, s.URL+"/api/requests/"+created.ID+"/decide", agent, map[string]any{"decision": "denied"})
	// Wait (bounded) until the failing receiver has been retried, so the
	// delivery worker's failure paths have logged.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, b := get(t, s.URL+"/api/webhooks/"+hookID+"/deliveries", s.AdminKey)
		var ds struct{ Deliveries []struct{ Attempts int } }
		_ = json.Unmarshal(b, &ds)
		if len(ds.Deliveries) > 0 && ds.Deliveries[0].Attempts >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retried delivery after 15s: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Enough failures to trip the per-address throttle (it logs).
	for range 8 {
		get(t, s.URL+"/api/me", auth.GenerateKey(), "X-Forwarded-For", "203.0.113.9")
	}

	_, metrics := get(t, s.URL+"/metrics", "")
	s.Stop()
	out := logs.String()
	if n := strings.Count(out, `"msg":"http"`); n < 100 {
		t.Fatalf("only %d access log lines: the session did not run as intended", n)
	}
	// Only the last burst was throttled (failures 6 to 8 of 203.0.113.9):
	// the walk itself reached the handlers, with successes and every kind
	// of refusal.
	if n := strings.Count(out, `"status":429,`); n != 3 {
		t.Errorf("%d responses were 429, want 3: the walk was throttled", n)
	}
	for _, status := range []string{"200", "201", "400", "401", "403", "404", "409", "429"} {
		if !strings.Contains(out, `"status":`+status+`,`) {
			t.Errorf("no %s in the session's access log", status)
		}
	}
	if !strings.Contains(out, "throttling a client address") {
		t.Error("the auth-failure throttle did not log: the failure paths were not exercised")
	}
	for name, text := range map[string]string{"logs": out, "metrics": string(metrics)} {
		for _, marker := range []string{auth.KeyPrefix, "whsec_"} {
			if i := strings.Index(text, marker); i >= 0 {
				t.Errorf("%s contain %q: ...%s...", name, marker, text[max(0, i-200):min(len(text), i+60)])
			}
		}
		for _, sec := range secrets {
			if strings.Contains(text, sec) || strings.Contains(text, sec[len(sec)-20:]) {
				t.Errorf("%s contain a secret (or its tail)", name)
			}
		}
	}
}

// streamBriefly opens the event stream, reads a little, and leaves.
func streamBriefly(t *testing.T, url, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
}
