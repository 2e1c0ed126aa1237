package channels_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/channels/channeltest"
	"github.com/agentgate/agentgate/internal/config"
)

type discordResponse struct {
	Type int `json:"type"`
	Data struct {
		Content    string                         `json:"content"`
		Flags      int                            `json:"flags"`
		CustomID   string                         `json:"custom_id"`
		Embeds     []struct{ Description string } `json:"embeds"`
		Components []struct {
			Components []struct {
				CustomID string `json:"custom_id"`
				Disabled bool   `json:"disabled"`
				Required *bool  `json:"required"`
			} `json:"components"`
		} `json:"components"`
	} `json:"data"`
}

func decodeDiscord(t *testing.T, body string) discordResponse {
	t.Helper()
	var r discordResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("interaction response %q: %v", body, err)
	}
	return r
}

// TestDiscordInteractions: PING answers PONG; bad, stale and missing
// signatures get 401 and decide nothing; an Approve click decides as the
// Discord user and answers UPDATE_MESSAGE with the buttons disabled; the
// same signed click again is a replay (401, decided once); Deny opens a
// modal and its submission denies with the reason; DISCORD_APPROVERS
// refuses others ephemerally.
func TestDiscordInteractions(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		h := start(t, dbURL, func(c *config.Config) { c.DiscordApprovers = []string{"4001", "4002"} })
		h.policy(routed(nil))

		now := time.Now()
		st, out := h.sendDiscord([]byte(`{"type":1}`), now, h.priv)
		if st != http.StatusOK || decodeDiscord(t, out).Type != 1 {
			t.Fatalf("PING: %d %s", st, out)
		}

		r := h.create("deploy", map[string]any{"service": "billing"})
		h.discordPost(r.ID)
		click := discordComponent("4001", "carol", "approve:"+r.ID)
		_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
		for name, send := range map[string]func() (int, string){
			"unsigned":        func() (int, string) { return h.sendDiscord(click, now, nil) },
			"other key":       func() (int, string) { return h.sendDiscord(click, now, otherKey) },
			"stale timestamp": func() (int, string) { return h.sendDiscord(click, now.Add(-10*time.Minute), h.priv) },
		} {
			if st, out := send(); st != http.StatusUnauthorized {
				t.Errorf("%s: %d %s, want 401", name, st, out)
			}
		}
		if got := h.get(r.ID); got.Status != "pending" {
			t.Fatalf("a refused interaction decided: %+v", got)
		}

		// Someone outside DISCORD_APPROVERS.
		st, out = h.sendDiscord(discordComponent("9999", "mallory", "approve:"+r.ID), now, h.priv)
		if resp := decodeDiscord(t, out); st != http.StatusOK || resp.Type != 4 || resp.Data.Flags != 64 ||
			!strings.Contains(resp.Data.Content, "not allowed") {
			t.Fatalf("outsider: %d %s", st, out)
		}

		st, out = h.sendDiscord(click, now, h.priv)
		resp := decodeDiscord(t, out)
		if st != http.StatusOK || resp.Type != 7 || len(resp.Data.Components) == 0 {
			t.Fatalf("approve click: %d %s", st, out)
		}
		for _, b := range resp.Data.Components[0].Components {
			if b.CustomID != "" && !b.Disabled {
				t.Errorf("button %s still enabled after the decision", b.CustomID)
			}
		}
		if len(resp.Data.Embeds) == 0 || !strings.Contains(resp.Data.Embeds[0].Description, "Approved by carol (discord:4001)") {
			t.Errorf("updated embed: %s", out)
		}
		got := h.get(r.ID)
		if got.Status != "approved" || got.DecidedByID != "discord:4001" {
			t.Fatalf("after the click: %+v", got)
		}
		if st, out := h.sendDiscord(click, now, h.priv); st != http.StatusUnauthorized {
			t.Fatalf("replay: %d %s, want 401", st, out)
		}
		// A fresh click on the decided request: ephemeral, who decided.
		st, out = h.sendDiscord(discordComponent("4002", "dave", "deny:"+r.ID), time.Now(), h.priv)
		if resp := decodeDiscord(t, out); resp.Type != 4 || !strings.Contains(resp.Data.Content, "already decided: Approved by carol") {
			t.Fatalf("re-click: %d %s", st, out)
		}

		// Deny with a reason through the modal.
		r2 := h.create("deploy", map[string]any{"service": "search"})
		h.discordPost(r2.ID)
		st, out = h.sendDiscord(discordComponent("4002", "dave", "deny:"+r2.ID), time.Now(), h.priv)
		modal := decodeDiscord(t, out)
		if st != http.StatusOK || modal.Type != 9 || modal.Data.CustomID != "reason:denied:"+r2.ID {
			t.Fatalf("deny click: %d %s", st, out)
		}
		if got := h.get(r2.ID); got.Status != "pending" {
			t.Fatalf("opening the modal decided: %+v", got)
		}
		st, out = h.sendDiscord(discordModalSubmit("4002", "dave", modal.Data.CustomID, "@everyone **not now**"), time.Now(), h.priv)
		resp = decodeDiscord(t, out)
		if st != http.StatusOK || resp.Type != 7 {
			t.Fatalf("modal submit: %d %s", st, out)
		}
		if d := resp.Data.Embeds[0].Description; !strings.Contains(d, `@`+"\u200b"+`everyone \*\*not now\*\*`) {
			t.Errorf("the reason must be escaped in the embed: %q", d)
		}
		got = h.get(r2.ID)
		if got.Status != "denied" || got.DecidedByID != "discord:4002" || got.DecisionReason != "@everyone **not now**" {
			t.Fatalf("after the modal: %+v", got)
		}
		// The posted message is brought up to date by the update job too.
		if _, err := h.discord.Wait(channeltest.DiscordEdit, func(c channeltest.Call) bool {
			return strings.Contains(string(c.Body), "Denied by dave")
		}, waitTimeout); err != nil {
			t.Fatal(err)
		}
	})
}
