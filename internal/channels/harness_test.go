package channels_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/channels/channeltest"
	"github.com/agentgate/agentgate/internal/channels/slack"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/testserver"
)

const (
	slackSecret  = "test-signing-secret-0123456789abcdef"
	discordChan  = "112233445566778899"
	opsAddress   = "ops@example.com"
	waitTimeout  = 15 * time.Second
	approverName = "approver"
)

// harness is a full server wired to fake Slack, Discord and SMTP servers.
type harness struct {
	t        testing.TB
	srv      *testserver.Server
	slack    *channeltest.Slack
	discord  *channeltest.Discord
	smtp     *channeltest.SMTP
	priv     ed25519.PrivateKey
	agent    string // request:create
	approver string // request:decide and request:read, named "approver"
}

func onBothDatabases(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, "") })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, testserver.PostgresURL(t)) })
}

func start(t testing.TB, dbURL string, edit func(*config.Config)) *harness {
	t.Helper()
	h := &harness{t: t, slack: channeltest.NewSlack(), discord: channeltest.NewDiscord()}
	t.Cleanup(h.slack.Close)
	t.Cleanup(h.discord.Close)
	var err error
	if h.smtp, err = channeltest.NewSMTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.smtp.Close() })
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h.priv = priv
	h.srv = testserver.Start(t, &testserver.Options{DatabaseURL: dbURL, Configure: func(c *config.Config) {
		c.SlackBotToken, c.SlackSigningSecret, c.SlackAPIURL = "xoxb-test-token", slackSecret, h.slack.APIURL()
		c.DiscordBotToken, c.DiscordPublicKey, c.DiscordAPIURL = "discord-test-token", hex.EncodeToString(pub), h.discord.URL
		c.SMTPHost, c.SMTPPort, c.SMTPTLS, c.SMTPFrom = h.smtp.Host, h.smtp.Port, "none", "AgentGate <agentgate@example.com>"
		c.NotifyMaxAttempts = 3
		if edit != nil {
			edit(c)
		}
	}})
	h.agent = h.srv.CreateKey(t, "agent", auth.ScopeRequestCreate, auth.ScopeRequestRead)
	h.approver = h.srv.CreateKey(t, approverName, auth.ScopeRequestDecide, auth.ScopeRequestRead)
	return h
}

// call sends an API request with key and decodes the JSON answer into out.
func (h *harness) call(key, method, path string, body, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: status %d, body %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// policy creates a policy with one rule.
func (h *harness) policy(rule map[string]any) {
	h.t.Helper()
	var out struct {
		Error string `json:"error"`
	}
	p := map[string]any{"name": "channels-test", "priority": 10, "enabled": true, "rules": []any{rule}}
	if st := h.call(h.srv.AdminKey, "POST", "/api/policies", p, &out); st != http.StatusCreated {
		h.t.Fatalf("create policy: %d %s", st, out.Error)
	}
}

// routed is the usual rule: deploy goes to people on all three channels.
func routed(extra map[string]any) map[string]any {
	r := map[string]any{"match": map[string]any{"action": "deploy"}, "decision": "route_to_human",
		"channels": []string{"slack:#ops", "discord:" + discordChan, "email:" + opsAddress}}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

type request struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	DecidedBy      string `json:"decidedBy"`
	DecidedByID    string `json:"decidedById"`
	DecisionReason string `json:"decisionReason"`
}

func (h *harness) create(action string, params map[string]any) request {
	h.t.Helper()
	var r request
	if st := h.call(h.agent, "POST", "/api/requests", map[string]any{"action": action, "params": params}, &r); st != http.StatusCreated {
		h.t.Fatalf("create request: %d", st)
	}
	return r
}

// createRaw creates a request from a literal JSON body (json.Marshal would
// escape <, > and & itself).
func (h *harness) createRaw(body string) request {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/requests", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.agent)
	req.Header.Set("Content-Type", "application/json")
	st, out := do(h.t, req)
	var r request
	if st != http.StatusCreated || json.Unmarshal([]byte(out), &r) != nil {
		h.t.Fatalf("create request: %d %s", st, out)
	}
	return r
}

func (h *harness) get(id string) request {
	h.t.Helper()
	var r request
	if st := h.call(h.approver, "GET", "/api/requests/"+id, nil, &r); st != http.StatusOK {
		h.t.Fatalf("get request: %d", st)
	}
	return r
}

type auditEvent struct {
	EventType string          `json:"eventType"`
	Actor     string          `json:"actor"`
	Details   json.RawMessage `json:"details"`
}

func (h *harness) audit(id string) []auditEvent {
	h.t.Helper()
	var evs []auditEvent
	if st := h.call(h.approver, "GET", "/api/requests/"+id+"/audit", nil, &evs); st != http.StatusOK {
		h.t.Fatalf("audit: %d", st)
	}
	return evs
}

// waitAudit waits until the request's timeline has an event of typ whose
// details contain every want substring.
func (h *harness) waitAudit(id, typ string, want ...string) auditEvent {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, e := range h.audit(id) {
			if e.EventType != typ {
				continue
			}
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(string(e.Details), w)
			}
			if ok {
				return e
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no %s event with %q in the timeline of %s: %+v", typ, want, id, h.audit(id))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// slackPost waits for the request's Slack message.
func (h *harness) slackPost(id, channel string) channeltest.Call {
	h.t.Helper()
	c, err := h.slack.Wait("chat.postMessage", func(c channeltest.Call) bool {
		return c.Form.Get("channel") == channel && strings.Contains(c.Form.Get("blocks"), `"approve_`+id+`"`)
	}, waitTimeout)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) discordPost(id string) channeltest.Call {
	h.t.Helper()
	c, err := h.discord.Wait(channeltest.DiscordCreate, func(c channeltest.Call) bool {
		return strings.Contains(string(c.Body), `"approve:`+id+`"`)
	}, waitTimeout)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// decisionLinks reads the approve and deny links of the email sent to to
// about request id, as paths on the test server.
func (h *harness) decisionLinks(to, id string) (approve, deny string) {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	re := regexp.MustCompile(`(?m)^(Approve|Deny):\s+\S*(/decide/[A-Za-z0-9_-]{43})\s*$`)
	for {
		for _, m := range h.smtp.Mails() {
			if len(m.To) == 0 || m.To[0] != to {
				continue
			}
			text, err := m.Part("text/plain")
			if err != nil || !strings.Contains(text, id) {
				continue
			}
			for _, sm := range re.FindAllStringSubmatch(text, -1) {
				if sm[1] == "Approve" {
					approve = sm[2]
				} else {
					deny = sm[2]
				}
			}
			if approve == "" || deny == "" {
				h.t.Fatalf("mail without both links:\n%s", text)
			}
			return approve, deny
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no mail to %s about %s", to, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// page fetches a decision page.
func (h *harness) page(method, path string, form url.Values) (int, http.Header, string) {
	h.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// slackUser is who clicks in Slack.
type slackUser struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// slackClick is a block_actions payload for a button.
func (h *harness) slackClick(u slackUser, actionID, id string) []byte {
	return slackForm(map[string]any{
		"type": "block_actions", "user": u, "trigger_id": "trigger-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		"response_url": h.slack.ResponseURL(), "channel": map[string]any{"id": "COPS"},
		"actions": []any{map[string]any{"action_id": actionID, "block_id": "actions", "value": id, "type": "button"}},
	})
}

// slackSubmit is a view_submission payload of the decision modal.
func slackSubmit(u slackUser, id, decision, reason string) []byte {
	meta, _ := json.Marshal(map[string]string{"id": id, "decision": decision})
	return slackForm(map[string]any{
		"type": "view_submission", "user": u,
		"view": map[string]any{"callback_id": "agentgate_decide", "private_metadata": string(meta),
			"state": map[string]any{"values": map[string]any{"reason": map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": reason}}}}},
	})
}

func slackForm(payload any) []byte {
	b, _ := json.Marshal(payload)
	return []byte(url.Values{"payload": {string(b)}}.Encode())
}

// sendSlack posts body to the interactivity endpoint signed at ts with
// secret (empty: unsigned).
func (h *harness) sendSlack(body []byte, ts time.Time, secret string) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/integrations/slack/interactions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		t := strconv.FormatInt(ts.Unix(), 10)
		req.Header.Set(slack.HeaderTimestamp, t)
		req.Header.Set(slack.HeaderSignature, slack.Sign(secret, t, body))
	}
	return do(h.t, req)
}

// sendDiscord posts body to the interactions endpoint signed at ts with key
// (nil: unsigned).
func (h *harness) sendDiscord(body []byte, ts time.Time, key ed25519.PrivateKey) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/integrations/discord/interactions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != nil {
		t := strconv.FormatInt(ts.Unix(), 10)
		req.Header.Set("X-Signature-Timestamp", t)
		req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, append([]byte(t), body...))))
	}
	return do(h.t, req)
}

func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// discordUser is who clicks in Discord.
func discordComponent(userID, username, customID string) []byte {
	b, _ := json.Marshal(map[string]any{"type": 3, "id": "1", "token": "tok",
		"member": map[string]any{"user": map[string]any{"id": userID, "username": username}},
		"data":   map[string]any{"custom_id": customID, "component_type": 2}})
	return b
}

func discordModalSubmit(userID, username, customID, reason string) []byte {
	b, _ := json.Marshal(map[string]any{"type": 5, "id": "2", "token": "tok",
		"member": map[string]any{"user": map[string]any{"id": userID, "username": username}},
		"data": map[string]any{"custom_id": customID, "components": []any{map[string]any{"type": 1,
			"components": []any{map[string]any{"type": 4, "custom_id": "reason", "value": reason}}}}}})
	return b
}
