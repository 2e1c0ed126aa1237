package channels_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/channels/channeltest"
	"github.com/agentgate/agentgate/internal/config"
)

// TestAnnounceAndUpdateOnAPIDecision: a request routed to people is posted
// to Slack, Discord and email, each success is in its timeline, and a
// decision taken elsewhere (the API, which the dashboard shares) updates
// the Slack and Discord messages with the outcome, who decided and why.
func TestAnnounceAndUpdateOnAPIDecision(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		h := start(t, dbURL, nil)
		h.policy(routed(nil))
		r := h.create("deploy", map[string]any{"service": "billing", "version": "1.4.2"})

		post := h.slackPost(r.ID, "#ops")
		for _, want := range []string{`"approve_` + r.ID + `"`, `"deny_` + r.ID + `"`, `"style":"primary"`, `"style":"danger"`,
			`\"service\": \"billing\"`, `"url":"http://127.0.0.1:`} {
			if !strings.Contains(post.Form.Get("blocks"), want) {
				t.Errorf("Slack blocks lack %s:\n%s", want, post.Form.Get("blocks"))
			}
		}
		if auth := post.Header.Get("Authorization"); auth != "Bearer xoxb-test-token" && post.Form.Get("token") != "xoxb-test-token" {
			t.Errorf("Slack call not authenticated with the bot token")
		}
		dpost := h.discordPost(r.ID)
		if dpost.Header.Get("Authorization") != "Bot discord-test-token" || dpost.Path != "/channels/"+discordChan+"/messages" {
			t.Errorf("Discord post %s with %q", dpost.Path, dpost.Header.Get("Authorization"))
		}
		if !strings.Contains(string(dpost.Body), `"deny:`+r.ID+`"`) || !strings.Contains(string(dpost.Body), `"allowed_mentions":{"parse":[]}`) {
			t.Errorf("Discord message: %s", dpost.Body)
		}
		h.decisionLinks(opsAddress, r.ID)
		for _, ch := range []string{`"channel":"slack"`, `"channel":"discord"`, `"channel":"email"`} {
			h.waitAudit(r.ID, "notification.sent", ch)
		}

		var decided request
		if st := h.call(h.approver, "POST", "/api/requests/"+r.ID+"/decide",
			map[string]any{"decision": "denied", "reason": "not during the freeze"}, &decided); st != http.StatusOK {
			t.Fatalf("decide: %d", st)
		}
		up, err := h.slack.Wait("chat.update", func(c channeltest.Call) bool {
			return c.Form.Get("channel") == "COPS" && strings.Contains(c.Form.Get("blocks"), "Denied by "+approverName)
		}, waitTimeout)
		if err != nil {
			t.Fatal(err)
		}
		blocks := up.Form.Get("blocks")
		if !strings.Contains(blocks, "not during the freeze") || strings.Contains(blocks, `"approve_`+r.ID+`"`) {
			t.Errorf("updated Slack message must show the reason and no buttons:\n%s", blocks)
		}
		if up.Form.Get("ts") != "1700000000.000001" {
			t.Errorf("chat.update ts = %q, want the posted message's", up.Form.Get("ts"))
		}
		edit, err := h.discord.Wait(channeltest.DiscordEdit, func(c channeltest.Call) bool {
			return strings.Contains(string(c.Body), "Denied by "+approverName)
		}, waitTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if edit.Path != "/channels/"+discordChan+"/messages/900001" || !strings.Contains(string(edit.Body), `"disabled":true`) {
			t.Errorf("Discord edit %s: %s", edit.Path, edit.Body)
		}
	})
}

var (
	_ = ed25519.GenerateKey
	_ = rand.Reader
	_ = sha256.Sum256
	_ = base64.StdEncoding
	_ = url.Values{}
	_ = regexp.MustCompile
	_ = time.Second
	_ = config.Load
)
