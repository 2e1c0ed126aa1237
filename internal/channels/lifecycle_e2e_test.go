package channels_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/channels/channeltest"
	"github.com/agentgate/agentgate/internal/config"
)

// TestQuorumProgress: each vote of a quorum updates the messages with the
// progress ("1 of 2 approvals: approver"), and the final vote with the
// outcome and every approver.
func TestQuorumProgress(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		h := start(t, dbURL, nil)
		second := h.srv.CreateKey(t, "second", auth.ScopeRequestDecide)
		h.policy(routed(map[string]any{"approvals": map[string]any{"required": 2}}))
		r := h.create("deploy", map[string]any{"service": "billing"})
		h.slackPost(r.ID, "#ops")
		h.discordPost(r.ID)
		if st := h.call(h.approver, "POST", "/api/requests/"+r.ID+"/decide", map[string]any{"decision": "approved"}, nil); st != http.StatusOK {
			t.Fatalf("first vote: %d", st)
		}
		if _, err := h.slack.Wait("chat.update", func(c channeltest.Call) bool {
			b := c.Form.Get("blocks")
			return strings.Contains(b, "1 of 2 approvals: "+approverName) && strings.Contains(b, `"approve_`+r.ID+`"`)
		}, waitTimeout); err != nil {
			t.Fatal(err)
		}
		if _, err := h.discord.Wait(channeltest.DiscordEdit, func(c channeltest.Call) bool {
			return strings.Contains(string(c.Body), "1 of 2 approvals: "+approverName)
		}, waitTimeout); err != nil {
			t.Fatal(err)
		}
		if st := h.call(second, "POST", "/api/requests/"+r.ID+"/decide", map[string]any{"decision": "approved"}, nil); st != http.StatusOK {
			t.Fatalf("second vote: %d", st)
		}
		if _, err := h.slack.Wait("chat.update", func(c channeltest.Call) bool {
			b := c.Form.Get("blocks")
			return strings.Contains(b, "Approved by second") && strings.Contains(b, "2 of 2 approvals: "+approverName+", second") &&
				!strings.Contains(b, `"approve_`+r.ID+`"`)
		}, waitTimeout); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEscalationAnnouncesToStepChannels: an escalation step announces the
// pending request on the step's channels; expiry then updates every
// message.
func TestEscalationAnnouncesToStepChannels(t *testing.T) {
	t.Parallel()
	h := start(t, "", nil)
	h.policy(map[string]any{"match": map[string]any{"action": "deploy"}, "decision": "route_to_human",
		"channels": []string{"slack:#ops"}, "timeout": "6s",
		"escalate": []any{map[string]any{"after": "300ms", "to": []string{"slack:#oncall", "email:lead@example.com"}}}})
	r := h.create("deploy", map[string]any{"service": "billing"})
	h.slackPost(r.ID, "#ops")
	esc := h.slackPost(r.ID, "#oncall")
	if !strings.Contains(esc.Form.Get("blocks"), "Escalated") {
		t.Errorf("escalation message does not say so:\n%s", esc.Form.Get("blocks"))
	}
	m, err := h.smtp.WaitMail("lead@example.com", waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if hdr, _ := m.Header(); !strings.Contains(hdr.Get("Subject"), "Escalated") {
		t.Errorf("subject %q", hdr.Get("Subject"))
	}
	h.waitAudit(r.ID, "notification.sent", `"reason":"escalated"`, `"step":1`)
	// Expiry (the rule's 6s timeout: long enough for the escalation to fire
	// first on a loaded machine) updates both Slack messages.
	for _, ch := range []string{"COPS", "CONCALL"} {
		if _, err := h.slack.Wait("chat.update", func(c channeltest.Call) bool {
			return c.Form.Get("channel") == ch && strings.Contains(c.Form.Get("blocks"), "Expired")
		}, waitTimeout); err != nil {
			t.Fatalf("%s: %v", ch, err)
		}
	}
}

// TestFailuresInTimeline: a channel the API refuses for good, a channel
// kind that is not configured and an unknown kind each show as
// notification.failed in the request's timeline (never as a webhook); a
// failure that clears on retry shows its first failure, then the success.
func TestFailuresInTimeline(t *testing.T) {
	t.Parallel()
	h := start(t, "", func(c *config.Config) { c.SMTPHost, c.SMTPFrom = "", "" })
	h.slack.Fail = func(method string) string {
		if method == "chat.postMessage" {
			return "channel_not_found"
		}
		return ""
	}
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	discordFailures := 1
	h.discord.Fail = func(c channeltest.Call) int {
		<-mu
		defer func() { mu <- struct{}{} }()
		if c.Method == channeltest.DiscordCreate && discordFailures > 0 {
			discordFailures--
			return http.StatusBadGateway
		}
		return 0
	}
	h.policy(routed(map[string]any{"channels": []string{"slack:#nowhere", "discord:" + discordChan, "email:" + opsAddress, "pager:oncall"}}))
	r := h.create("deploy", map[string]any{"service": "billing"})

	h.waitAudit(r.ID, "notification.failed", `"channel":"slack"`, `"target":"#nowhere"`, "channel_not_found", `"final":true`)
	h.waitAudit(r.ID, "notification.failed", `"channel":"email"`, "email is not configured", `"final":true`)
	h.waitAudit(r.ID, "notification.failed", `"channel":"pager"`, "unknown channel kind", `"final":true`)
	h.waitAudit(r.ID, "notification.failed", `"channel":"discord"`, "HTTP 502", `"attempt":1`, `"final":false`)
	h.waitAudit(r.ID, "notification.sent", `"channel":"discord"`, `"attempt":2`)
	// channel_not_found is not retried.
	time.Sleep(200 * time.Millisecond)
	if n := len(h.slack.Calls("chat.postMessage")); n != 1 {
		t.Errorf("Slack was called %d times for a permanent failure, want 1", n)
	}
}
