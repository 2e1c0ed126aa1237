package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/httpapi"
	"github.com/agentgate/agentgate/internal/testserver"
)

// call sends one request and returns the status and decoded JSON body.
func call(t *testing.T, method, url, key string, body any, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	case []byte:
		rdr = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rdr = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rdr)
	if err != nil {
		t.Fatal(err)
	}
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"_raw": string(raw)}
	}
	return resp.StatusCode, m, resp.Header
}

type fixture struct {
	srv   *testserver.Server
	admin string
	agent string // request:create + request:read
	human string // request:decide + request:read
	reqID string
}

func newFixture(t *testing.T, dbURL string) *fixture {
	t.Helper()
	srv := testserver.Start(t, &testserver.Options{DatabaseURL: dbURL})
	f := &fixture{
		srv:   srv,
		admin: srv.AdminKey,
		agent: srv.CreateKey(t, "agent", auth.ScopeRequestCreate, auth.ScopeRequestRead),
		human: srv.CreateKey(t, "alice", auth.ScopeRequestDecide, auth.ScopeRequestRead),
	}
	f.reqID = f.create(t, map[string]any{"action": "deploy", "params": map[string]any{"env": "prod"}})
	return f
}

func (f *fixture) create(t *testing.T, body any) string {
	t.Helper()
	st, m, _ := call(t, "POST", f.srv.URL+"/api/requests", f.agent, body)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, m)
	}
	return m["id"].(string)
}

// TestAuthorization walks the router's own route table, so a new route
// cannot be forgotten: every route is tried with no key, a malformed
// header, an unknown key, a revoked key and a key of each single scope.
func TestAuthorization(t *testing.T) {
	f := newFixture(t, "")
	revoked := f.srv.CreateKey(t, "revoked", auth.ScopeAdmin)
	st, m, _ := call(t, "GET", f.srv.URL+"/api/keys", f.admin, nil)
	if st != 200 {
		t.Fatalf("list keys: %d %v", st, m)
	}
	for _, k := range m["keys"].([]any) {
		km := k.(map[string]any)
		if km["name"] == "revoked" {
			if st, m, _ := call(t, "DELETE", f.srv.URL+"/api/keys/"+km["id"].(string), f.admin, nil); st != 200 {
				t.Fatalf("revoke: %d %v", st, m)
			}
		}
	}
	scoped := map[auth.Scope]string{}
	for _, sc := range auth.Scopes {
		scoped[sc] = f.srv.CreateKey(t, "only-"+string(sc), sc)
	}
	routes := f.srv.App.API.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	path := func(p string) string {
		p = strings.NewReplacer("{id}", "unknown_id", "{name}", "unknown-group").Replace(p)
		return f.srv.URL + p
	}
	do := func(t *testing.T, rt httpapi.Route, hdr ...string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var body io.Reader
		if rt.Method == "POST" || rt.Method == "PUT" || rt.Method == "PATCH" {
			body = strings.NewReader(`{}`)
		}
		req, _ := http.NewRequestWithContext(ctx, rt.Method, path(rt.Pattern), body)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", rt.Method, rt.Pattern, err)
		}
		resp.Body.Close() // streams: the status line is enough
		return resp.StatusCode
	}
	for _, rt := range routes {
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			if rt.Scope == httpapi.ScopePublic {
				if st := do(t, rt); st == 401 || st == 403 {
					t.Errorf("public route answered %d without a key", st)
				}
				return
			}
			for name, hdr := range map[string][]string{
				"no key":       nil,
				"not bearer":   {"Authorization", "Basic dXNlcjpwYXNz"},
				"empty bearer": {"Authorization", "Bearer "},
				"unknown key":  {"Authorization", "Bearer " + auth.GenerateKey()},
				"not a key":    {"Authorization", "Bearer hello"},
				"revoked key":  {"Authorization", "Bearer " + revoked},
			} {
				if st := do(t, rt, hdr...); st != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401", name, st)
				}
			}
			for sc, key := range scoped {
				st := do(t, rt, "Authorization", "Bearer "+key)
				allowed := rt.Scope == httpapi.ScopeAny || sc == auth.ScopeAdmin || sc == rt.Scope
				switch {
				case allowed && (st == 401 || st == 403):
					t.Errorf("scope %s: status %d, want the route to run", sc, st)
				case !allowed && st != http.StatusForbidden:
					t.Errorf("scope %s: status %d, want 403", sc, st)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	f := newFixture(t, "")
	u := f.srv.URL
	big := `{"action":"x","params":{"a":"` + strings.Repeat("x", 1<<20) + `"}}`
	deep := `{"action":"x","params":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`
	tests := []struct {
		name, method, path, key string
		body                    any
		hdr                     []string
		want                    int
		wantMsg                 string
	}{
		{"malformed json", "POST", "/api/requests", f.agent, `{"action":`, nil, 400, "malformed JSON"},
		{"trailing garbage", "POST", "/api/requests", f.agent, `{"action":"x"} {}`, nil, 400, "single JSON value"},
		{"array body", "POST", "/api/requests", f.agent, `[1,2]`, nil, 400, "JSON object"},
		{"empty body", "POST", "/api/requests", f.agent, ``, nil, 400, "Request body required"},
		{"missing action", "POST", "/api/requests", f.agent, `{}`, nil, 400, "action is required"},
		{"blank action", "POST", "/api/requests", f.agent, `{"action":"   "}`, nil, 400, "action is required"},
		{"action wrong type", "POST", "/api/requests", f.agent, `{"action":42}`, nil, 400, "action is required"},
		{"action too long", "POST", "/api/requests", f.agent, map[string]any{"action": strings.Repeat("a", 257)}, nil, 400, "at most 256"},
		{"action control char", "POST", "/api/requests", f.agent, `{"action":"a\u0000b"}`, nil, 400, "control characters"},
		{"params array", "POST", "/api/requests", f.agent, `{"action":"x","params":[1]}`, nil, 400, "params must be a JSON object"},
		{"params string", "POST", "/api/requests", f.agent, `{"action":"x","params":"a=b"}`, nil, 400, "params must be a JSON object"},
		{"context number", "POST", "/api/requests", f.agent, `{"action":"x","context":5}`, nil, 400, "context must be a JSON object"},
		{"bad urgency", "POST", "/api/requests", f.agent, `{"action":"x","urgency":"urgent"}`, nil, 400, "urgency must be one of"},
		{"urgency number", "POST", "/api/requests", f.agent, `{"action":"x","urgency":3}`, nil, 400, "urgency must be one of"},
		{"expiresAt not a time", "POST", "/api/requests", f.agent, `{"action":"x","expiresAt":"tomorrow"}`, nil, 400, "RFC 3339"},
		{"expiresAt in the past", "POST", "/api/requests", f.agent, `{"action":"x","expiresAt":"2001-01-01T00:00:00Z"}`, nil, 400, "in the future"},
		{"unknown field", "POST", "/api/requests", f.agent, `{"action":"x","param":{}}`, nil, 400, `unknown field "param"`},
		{"too deep", "POST", "/api/requests", f.agent, deep, nil, 400, "nesting"},
		{"huge body", "POST", "/api/requests", f.agent, big, nil, 413, "larger than"},
		{"wrong content type", "POST", "/api/requests", f.agent, `{"action":"x"}`, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"form content type", "POST", "/api/requests", f.agent, `action=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"idempotency key too long", "POST", "/api/requests", f.agent, `{"action":"x"}`, []string{"Idempotency-Key", strings.Repeat("k", 300)}, 400, "Idempotency-Key"},
		{"bad status filter", "GET", "/api/requests?status=maybe", f.agent, nil, nil, 400, "status must be one of"},
		{"bad sort", "GET", "/api/requests?sort=random", f.agent, nil, nil, 400, "sort must be one of"},
		{"limit zero", "GET", "/api/requests?limit=0", f.agent, nil, nil, 400, "limit must be"},
		{"limit too big", "GET", "/api/requests?limit=1000", f.agent, nil, nil, 400, "limit must be"},
		{"limit not a number", "GET", "/api/requests?limit=ten", f.agent, nil, nil, 400, "limit must be"},
		{"negative offset", "GET", "/api/requests?offset=-1", f.agent, nil, nil, 400, "offset must be"},
		{"huge offset", "GET", "/api/requests?offset=99999999999999999999", f.agent, nil, nil, 400, "offset must be"},
		{"bad from", "GET", "/api/requests?from=yesterday", f.agent, nil, nil, 400, "from must be"},
		{"audit bad to", "GET", "/api/audit?to=13/13/2026", f.agent, nil, nil, 400, "to must be"},
		{"audit to before from", "GET", "/api/audit?from=2026-02-01&to=2026-01-01", f.agent, nil, nil, 400, "before from"},
		{"unknown request", "GET", "/api/requests/req_nope", f.agent, nil, nil, 404, "Request not found"},
		{"unknown request audit", "GET", "/api/requests/req_nope/audit", f.agent, nil, nil, 404, "Request not found"},
		{"unknown request wait", "GET", "/api/requests/req_nope/wait?timeout=1s", f.agent, nil, nil, 404, "Request not found"},
		{"bad wait timeout", "GET", "/api/requests/" + f.reqID + "/wait?timeout=forever", f.agent, nil, nil, 400, "timeout must be"},
		{"wait timeout too long", "GET", "/api/requests/" + f.reqID + "/wait?timeout=2h", f.agent, nil, nil, 400, "timeout must be"},
		{"decide unknown request", "POST", "/api/requests/req_nope/decide", f.human, `{"decision":"approved"}`, nil, 404, "Request not found"},
		{"decide maybe", "POST", "/api/requests/" + f.reqID + "/decide", f.human, `{"decision":"maybe"}`, nil, 400, "decision must be"},
		{"decide missing decision", "POST", "/api/requests/" + f.reqID + "/decide", f.human, `{"reason":"x"}`, nil, 400, "decision must be"},
		{"decide reason wrong type", "POST", "/api/requests/" + f.reqID + "/decide", f.human, `{"decision":"approved","reason":5}`, nil, 400, "reason must be a string"},
		{"decide own request", "POST", "/api/requests/" + f.reqID + "/decide", f.agent, `{"decision":"approved"}`, nil, 403, "scope"},
		{"events bad last id", "GET", "/api/events", f.agent, nil, []string{"Last-Event-ID", "abc"}, 400, "Last-Event-ID"},
		{"events bad status", "GET", "/api/events?status=nope", f.agent, nil, nil, 400, "status must be"},
		{"key without name", "POST", "/api/keys", f.admin, `{"scopes":["admin"]}`, nil, 400, "name is required"},
		{"key bad scope", "POST", "/api/keys", f.admin, `{"name":"k","scopes":["root"]}`, nil, 400, `unknown scope "root"`},
		{"key no scopes", "POST", "/api/keys", f.admin, `{"name":"k","scopes":[]}`, nil, 400, "scopes must list"},
		{"key scopes wrong type", "POST", "/api/keys", f.admin, `{"name":"k","scopes":"admin"}`, nil, 400, "scopes"},
		{"key negative rate", "POST", "/api/keys", f.admin, `{"name":"k","scopes":["admin"],"rateLimit":-5}`, nil, 400, "rateLimit"},
		{"key rate string", "POST", "/api/keys", f.admin, `{"name":"k","scopes":["admin"],"rateLimit":"fast"}`, nil, 400, "rateLimit"},
		{"patch unknown key", "PATCH", "/api/keys/key_nope", f.admin, `{"name":"x"}`, nil, 404, "API key not found"},
		{"patch key nothing", "PATCH", "/api/keys/key_nope", f.admin, `{}`, nil, 400, "No fields"},
		{"revoke unknown key", "DELETE", "/api/keys/key_nope", f.admin, nil, nil, 404, "API key not found"},
		{"policy no rules", "POST", "/api/policies", f.admin, `{"name":"p"}`, nil, 400, "rules is required"},
		{"policy unknown operator", "POST", "/api/policies", f.admin, `{"name":"payments","rules":[{"match":{"action":"pay"},"decision":"auto_approve"},{"match":{"amount":{"$gtt":5}},"decision":"auto_deny"}]}`, nil, 400, `policy "payments" rules[1].match["amount"]: unknown operator "$gtt"`},
		{"policy lookahead regex", "POST", "/api/policies", f.admin, `{"name":"re","rules":[{"match":{"to":{"$regex":"(?=x)"}},"decision":"auto_deny"}]}`, nil, 400, `policy "re" rules[0].match["to"]`},
		{"policy bad CEL", "POST", "/api/policies", f.admin, `{"name":"cel","rules":[{"when":"params.amount >","decision":"auto_deny"}]}`, nil, 400, `policy "cel" rules[0].when`},
		{"policy bad decision", "POST", "/api/policies", f.admin, `{"name":"d","rules":[{"decision":"maybe"}]}`, nil, 400, `rules[0].decision`},
		{"policy rules not array", "POST", "/api/policies", f.admin, `{"name":"p","rules":{}}`, nil, 400, "rules"},
		{"policy priority string", "POST", "/api/policies", f.admin, `{"name":"p","priority":"high","rules":[]}`, nil, 400, "priority"},
		{"unknown policy", "GET", "/api/policies/pol_nope", f.admin, nil, nil, 404, "Policy not found"},
		{"delete unknown policy", "DELETE", "/api/policies/pol_nope", f.admin, nil, nil, 404, "Policy not found"},
		{"dry-run unknown policy", "POST", "/api/policies/pol_nope/dry-run", f.admin, `{"action":"x"}`, nil, 404, "Policy not found"},
		{"dry-run without action", "POST", "/api/policies/dry-run", f.admin, `{}`, nil, 400, "action is required"},
		{"unknown route", "GET", "/api/nothing", f.admin, nil, nil, 404, "not found"},
		{"wrong method", "PUT", "/api/requests", f.admin, `{}`, nil, 405, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, m, _ := call(t, tt.method, u+tt.path, tt.key, tt.body, tt.hdr...)
			if st != tt.want {
				t.Fatalf("status %d, want %d; body %v", st, tt.want, m)
			}
			msg, _ := m["error"].(string)
			if msg == "" || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf(`error %q, want it to contain %q`, msg, tt.wantMsg)
			}
		})
	}
	// Nothing above may have created a request: bad input loses nothing and adds nothing.
	st, m, _ := call(t, "GET", u+"/api/requests", f.agent, nil)
	if st != 200 || m["pagination"].(map[string]any)["total"].(float64) != 1 {
		t.Errorf("requests after bad input: %d %v", st, m["pagination"])
	}
}

// TestDecideRace: 50 concurrent decisions on one request: exactly one
// wins, 49 get 409, and the audit trail holds one decision.
func TestDecideRace(t *testing.T) {
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return testserver.PostgresURL(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			f := newFixture(t, db.url(t))
			const n = 50
			codes := make([]int, n)
			msgs := make([]string, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					decision := "approved"
					if i%2 == 1 {
						decision = "denied"
					}
					st, m, _ := call(t, "POST", f.srv.URL+"/api/requests/"+f.reqID+"/decide", f.human,
						map[string]any{"decision": decision, "reason": fmt.Sprint("vote ", i)})
					codes[i] = st
					msgs[i], _ = m["error"].(string)
				})
			}
			close(start)
			wg.Wait()
			ok, conflict := 0, 0
			for i, c := range codes {
				switch c {
				case 200:
					ok++
				case 409:
					conflict++
					if !strings.HasPrefix(msgs[i], "Request already ") {
						t.Errorf("409 message %q", msgs[i])
					}
				default:
					t.Errorf("decide #%d: status %d (%s)", i, c, msgs[i])
				}
			}
			if ok != 1 || conflict != n-1 {
				t.Fatalf("%d × 200 and %d × 409, want 1 and %d", ok, conflict, n-1)
			}
			resp, err := http.NewRequest("GET", f.srv.URL+"/api/requests/"+f.reqID+"/audit", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Header.Set("Authorization", "Bearer "+f.agent)
			r, err := http.DefaultClient.Do(resp)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Body.Close()
			var trail []map[string]any
			if err := json.NewDecoder(r.Body).Decode(&trail); err != nil {
				t.Fatal(err)
			}
			decisions := 0
			for _, e := range trail {
				if e["eventType"] == "approved" || e["eventType"] == "denied" {
					decisions++
				}
			}
			if decisions != 1 {
				t.Errorf("%d decision events in the audit trail, want 1: %v", decisions, trail)
			}
		})
	}
}
