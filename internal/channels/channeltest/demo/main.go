// Command demo runs the fake Slack and Discord APIs for a local demo of
// AgentGate's channels, prints every call they get, and signs and sends
// button clicks to AgentGate as Slack and Discord would.
//
//	go run ./internal/channels/channeltest/demo -agentgate http://127.0.0.1:3900
//
// It prints the environment to start AgentGate with, then serves:
//
//	POST /slack/click?request=ID&action=approve|deny&user=U123&name=alice
//	POST /slack/submit?request=ID&decision=denied&reason=...&user=U123&name=alice
//	POST /discord/click?request=ID&action=approve|deny&user=4001&name=carol
//	POST /discord/submit?request=ID&decision=denied&reason=...&user=4001&name=carol
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/channels/channeltest"
	"github.com/agentgate/agentgate/internal/channels/slack"
)

func main() {
	target := flag.String("agentgate", "http://127.0.0.1:3900", "AgentGate's URL")
	addr := flag.String("addr", "127.0.0.1:3999", "where the click simulator listens")
	secret := flag.String("slack-secret", "demo-signing-secret", "SLACK_SIGNING_SECRET to sign with")
	flag.Parse()

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	sl, dc := channeltest.NewSlack(), channeltest.NewDiscord()
	defer sl.Close()
	defer dc.Close()
	sl.OnCall = func(c channeltest.Call) { printSlack(c) }
	dc.OnCall = func(c channeltest.Call) { printDiscord(c) }

	fmt.Printf("# start AgentGate with:\nexport SLACK_BOT_TOKEN=xoxb-demo SLACK_SIGNING_SECRET=%s SLACK_API_URL=%s\n", *secret, sl.APIURL())
	fmt.Printf("export DISCORD_BOT_TOKEN=demo DISCORD_PUBLIC_KEY=%s DISCORD_API_URL=%s\n\n", hex.EncodeToString(pub), dc.URL)

	send := func(path string, body []byte, headers map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", *target+path, bytes.NewReader(body))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	slackSend := func(payload map[string]any) (int, string) {
		b, _ := json.Marshal(payload)
		body := []byte(url.Values{"payload": {string(b)}}.Encode())
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		return send("/integrations/slack/interactions", body, map[string]string{"Content-Type": "application/x-www-form-urlencoded",
			slack.HeaderTimestamp: ts, slack.HeaderSignature: slack.Sign(*secret, ts, body)})
	}
	discordSend := func(payload map[string]any) (int, string) {
		body, _ := json.Marshal(payload)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		return send("/integrations/discord/interactions", body, map[string]string{"Content-Type": "application/json",
			"X-Signature-Timestamp": ts, "X-Signature-Ed25519": hex.EncodeToString(ed25519.Sign(priv, append([]byte(ts), body...)))})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/click", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		st, out := slackSend(map[string]any{"type": "block_actions", "trigger_id": "demo-trigger", "response_url": sl.ResponseURL(),
			"user":    map[string]any{"id": q.Get("user"), "name": q.Get("name")},
			"actions": []any{map[string]any{"action_id": q.Get("action") + "_" + q.Get("request"), "block_id": "actions", "value": q.Get("request")}}})
		fmt.Fprintf(w, "AgentGate answered %d %s\n", st, out)
	})
	mux.HandleFunc("POST /slack/submit", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		meta, _ := json.Marshal(map[string]string{"id": q.Get("request"), "decision": q.Get("decision")})
		st, out := slackSend(map[string]any{"type": "view_submission", "user": map[string]any{"id": q.Get("user"), "name": q.Get("name")},
			"view": map[string]any{"callback_id": "agentgate_decide", "private_metadata": string(meta),
				"state": map[string]any{"values": map[string]any{"reason": map[string]any{"reason": map[string]any{"value": q.Get("reason")}}}}}})
		fmt.Fprintf(w, "AgentGate answered %d %s\n", st, out)
	})
	mux.HandleFunc("POST /discord/click", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		st, out := discordSend(map[string]any{"type": 3, "member": map[string]any{"user": map[string]any{"id": q.Get("user"), "username": q.Get("name")}},
			"data": map[string]any{"custom_id": q.Get("action") + ":" + q.Get("request"), "component_type": 2}})
		fmt.Fprintf(w, "AgentGate answered %d %s\n", st, out)
	})
	mux.HandleFunc("POST /discord/submit", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		st, out := discordSend(map[string]any{"type": 5, "member": map[string]any{"user": map[string]any{"id": q.Get("user"), "username": q.Get("name")}},
			"data": map[string]any{"custom_id": "reason:" + q.Get("decision") + ":" + q.Get("request"),
				"components": []any{map[string]any{"type": 1, "components": []any{map[string]any{"type": 4, "custom_id": "reason", "value": q.Get("reason")}}}}}})
		fmt.Fprintf(w, "AgentGate answered %d %s\n", st, out)
	})
	log.Printf("click simulator on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}

// printSlack shows a Slack call in one or two lines.
func printSlack(c channeltest.Call) {
	switch c.Method {
	case "chat.postMessage", "chat.update":
		fmt.Printf("[slack] %s channel=%s ts=%s text=%q\n        status: %s\n", c.Method, c.Form.Get("channel"), c.Form.Get("ts"),
			c.Form.Get("text"), statusBlock(c.Form.Get("blocks")))
	default:
		fmt.Printf("[slack] %s %s\n", c.Method, truncate(string(c.Body), 300))
	}
}

func statusBlock(blocks string) string {
	var bs []map[string]any
	_ = json.Unmarshal([]byte(blocks), &bs)
	var buttons []string
	status := ""
	for _, b := range bs {
		if b["block_id"] == "status" {
			if t, ok := b["text"].(map[string]any); ok {
				status, _ = t["text"].(string)
			}
		}
		if b["type"] == "actions" {
			for _, e := range b["elements"].([]any) {
				buttons = append(buttons, e.(map[string]any)["action_id"].(string))
			}
		}
	}
	return strings.ReplaceAll(status, "\n", " / ") + "  buttons=" + strings.Join(buttons, ",")
}

func printDiscord(c channeltest.Call) {
	var m struct {
		Embeds []struct {
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"embeds"`
		Components []struct {
			Components []struct {
				CustomID string `json:"custom_id"`
				Disabled bool   `json:"disabled"`
			} `json:"components"`
		} `json:"components"`
	}
	_ = json.Unmarshal(c.Body, &m)
	line := fmt.Sprintf("[discord] %s %s", c.Method, c.Path)
	if len(m.Embeds) > 0 {
		line += fmt.Sprintf(" title=%q description=%q", m.Embeds[0].Title, m.Embeds[0].Description)
	}
	if len(m.Components) > 0 {
		for _, b := range m.Components[0].Components {
			if b.CustomID != "" {
				line += fmt.Sprintf(" [%s disabled=%v]", b.CustomID, b.Disabled)
			}
		}
	}
	fmt.Println(line)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
