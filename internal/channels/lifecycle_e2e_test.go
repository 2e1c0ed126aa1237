package channels_test

import (
	"net/http"
	"net/http/httptest"
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
// pending request on the step's channels and marks the messages already
// out as escalated; expiry then updates every message.
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
	h.waitAudit(r.ID, "notification.sent", `"trigger":"escalated"`, `"step":1`)
	// The first message shows the escalation too.
	if _, err := h.slack.Wait("chat.update", func(c channeltest.Call) bool {
		return c.Form.Get("channel") == "COPS" && strings.Contains(c.Form.Get("blocks"), "escalated, step 1 of 1")
	}, waitTimeout); err != nil {
		t.Fatal(err)
	}
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
	h := start(t, "", func(c *config.Config) { c.SMTPHost, c.SMTPFrom, c.WebhookAllowPrivate = "", "", true })
	h.slack.SetFail(func(method string) string {
		if method == "chat.postMessage" {
			return "channel_not_found"
		}
		return ""
	})
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	discordFailures := 1
	h.discord.SetFail(func(c channeltest.Call) int {
		<-mu
		defer func() { mu <- struct{}{} }()
		if c.Method == channeltest.DiscordCreate && discordFailures > 0 {
			discordFailures--
			return http.StatusBadGateway
		}
		return 0
	})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer receiver.Close()
	var hook struct {
		ID string `json:"id"`
	}
	if st := h.call(h.srv.AdminKey, "POST", "/api/webhooks", map[string]any{"url": receiver.URL, "events": []string{"*"}}, &hook); st != http.StatusCreated {
		t.Fatalf("webhook: %d", st)
	}
	hookID := hook.ID
	h.policy(routed(map[string]any{"channels": []string{"slack:#nowhere", "discord:" + discordChan, "email:" + opsAddress, "pager:oncall"}}))
	r := h.create("deploy", map[string]any{"service": "billing"})

	h.waitAudit(r.ID, "notification.failed", `"channel":"slack"`, `"target":"#nowhere"`, "channel_not_found", `"final":true`)
	h.waitAudit(r.ID, "notification.failed", `"channel":"email"`, "email is not configured", `"final":true`)
	h.waitAudit(r.ID, "notification.failed", `"channel":"pager"`, "unknown channel kind", `"final":true`)
	h.waitAudit(r.ID, "notification.failed", `"channel":"discord"`, "HTTP 502", `"attempt":1`, `"final":false`)
	h.waitAudit(r.ID, "notification.sent", `"channel":"discord"`, `"attempt":2`)
	// None of this is a webhook event: a subscriber to everything got the
	// request's events only.
	var deliveries struct {
		Deliveries []struct {
			Event string `json:"event"`
		} `json:"deliveries"`
	}
	if st := h.call(h.srv.AdminKey, "GET", "/api/webhooks/"+hookID+"/deliveries?limit=100", nil, &deliveries); st != http.StatusOK {
		t.Fatalf("deliveries: %d", st)
	}
	if len(deliveries.Deliveries) == 0 {
		t.Fatal("the webhook got nothing")
	}
	for _, d := range deliveries.Deliveries {
		if !strings.HasPrefix(d.Event, "request.") {
			t.Errorf("webhook event %q", d.Event)
		}
	}
	// channel_not_found is not retried.
	time.Sleep(200 * time.Millisecond)
	if n := len(h.slack.Calls("chat.postMessage")); n != 1 {
		t.Errorf("Slack was called %d times for a permanent failure, want 1", n)
	}
}

// TestRequiredReasonOpensForms: when the rule requires a reason, Approve
// opens a form on Slack and on Discord instead of deciding.
func TestRequiredReasonOpensForms(t *testing.T) {
	t.Parallel()
	h := start(t, "", nil)
	h.policy(routed(map[string]any{"requireReason": true}))
	r := h.create("deploy", map[string]any{"service": "billing"})
	h.slackPost(r.ID, "#ops")
	if st, _ := h.sendSlack(h.slackClick(alice, "approve_"+r.ID, r.ID), time.Now(), slackSecret); st != http.StatusOK {
		t.Fatalf("click: %d", st)
	}
	view, err := h.slack.Wait("views.open", nil, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(view.Body), `Approve request`) || strings.Contains(string(view.Body), `"optional":true`) {
		t.Errorf("approve form: %s", view.Body)
	}
	st, out := h.sendDiscord(discordComponent("4001", "carol", "approve:"+r.ID), time.Now(), h.priv)
	resp := decodeDiscord(t, out)
	if st != http.StatusOK || resp.Type != 9 || resp.Data.CustomID != "reason:approved:"+r.ID {
		t.Fatalf("discord approve: %d %s", st, out)
	}
	if got := h.get(r.ID); got.Status != "pending" {
		t.Fatalf("a form decided: %+v", got)
	}
	// Submitting without a reason is refused by the service, in the form.
	st, out = h.sendSlack(slackSubmit(alice, r.ID, "approved", ""), time.Now(), slackSecret)
	if st != http.StatusOK || !strings.Contains(out, "a reason is required") {
		t.Fatalf("submit without reason: %d %s", st, out)
	}
	st, out = h.sendSlack(slackSubmit(alice, r.ID, "approved", "canary is green"), time.Now(), slackSecret)
	if st != http.StatusOK || !strings.Contains(out, `"clear"`) {
		t.Fatalf("submit: %d %s", st, out)
	}
	if got := h.get(r.ID); got.Status != "approved" || got.DecisionReason != "canary is green" {
		t.Fatalf("after the form: %+v", got)
	}
}
