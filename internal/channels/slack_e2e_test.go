package channels_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/channels/channeltest"
	"github.com/agentgate/agentgate/internal/channels/slack"
	"github.com/agentgate/agentgate/internal/config"
)

var (
	alice = slackUser{ID: "U0ALICE", Name: "alice"}
	bob   = slackUser{ID: "U0BOB", Name: "bob"}
)

// TestSlackSignatures: a click with no, a wrong, a stale or a future
// signature is refused with 401 and decides nothing; a correctly signed
// click decides as the Slack user; the same signed payload sent again is a
// replay, refused with 401, and decides nothing twice.
func TestSlackSignatures(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		h := start(t, dbURL, nil)
		h.policy(routed(nil))
		r := h.create("deploy", map[string]any{"service": "billing"})
		h.slackPost(r.ID, "#ops")
		body := h.slackClick(alice, "approve_"+r.ID, r.ID)
		now := time.Now()
		for _, tc := range []struct {
			name   string
			ts     time.Time
			secret string
			body   []byte
		}{
			{"unsigned", now, "", body},
			{"wrong secret", now, "not-the-secret", body},
			{"stale timestamp", now.Add(-6 * time.Minute), slackSecret, body},
			{"future timestamp", now.Add(6 * time.Minute), slackSecret, body},
			{"signed body altered", now, slackSecret, nil},
		} {
			b := tc.body
			if b == nil {
				// Sign one body, send another.
				st, _ := h.sendSlackTampered(body, h.slackClick(bob, "approve_"+r.ID, r.ID), now)
				if st != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401", tc.name, st)
				}
				continue
			}
			if st, out := h.sendSlack(b, tc.ts, tc.secret); st != http.StatusUnauthorized {
				t.Errorf("%s: status %d (%s), want 401", tc.name, st, out)
			}
		}
		if got := h.get(r.ID); got.Status != "pending" {
			t.Fatalf("a refused click decided the request: %+v", got)
		}

		if st, out := h.sendSlack(body, now, slackSecret); st != http.StatusOK {
			t.Fatalf("signed click: %d %s", st, out)
		}
		got := h.get(r.ID)
		if got.Status != "approved" || got.DecidedByID != "slack:U0ALICE" || got.DecidedBy != "alice" {
			t.Fatalf("after the click: %+v", got)
		}
		// The same signed payload again (a replay within the window).
		if st, _ := h.sendSlack(body, now, slackSecret); st != http.StatusUnauthorized {
			t.Fatalf("replay: status %d, want 401", st)
		}
		decisions := 0
		for _, e := range h.audit(r.ID) {
			if e.EventType == "approved" || e.EventType == "denied" {
				decisions++
			}
		}
		if decisions != 1 {
			t.Fatalf("%d decisions in the timeline, want 1", decisions)
		}
		// A new click on the decided request (fresh signature) is answered
		// to the clicker alone with who decided.
		if st, _ := h.sendSlack(h.slackClick(bob, "approve_"+r.ID, r.ID), time.Now(), slackSecret); st != http.StatusOK {
			t.Fatalf("re-click: %d", st)
		}
		resp, err := h.slack.Wait("response_url", func(c channeltest.Call) bool {
			return strings.Contains(string(c.Body), "already decided: Approved by alice (slack:U0ALICE)")
		}, waitTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(resp.Body), `"response_type":"ephemeral"`) {
			t.Errorf("answer is not ephemeral: %s", resp.Body)
		}
		// And the message itself now shows the outcome.
		if _, err := h.slack.Wait("chat.update", func(c channeltest.Call) bool {
			return strings.Contains(c.Form.Get("blocks"), "Approved by alice (slack:U0ALICE)")
		}, waitTimeout); err != nil {
			t.Fatal(err)
		}
	})
}

// sendSlackTampered signs signed but sends sent.
func (h *harness) sendSlackTampered(signed, sent []byte, ts time.Time) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+"/integrations/slack/interactions", strings.NewReader(string(sent)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tsv := itoa64(ts.Unix())
	req.Header.Set("X-Slack-Request-Timestamp", tsv)
	req.Header.Set("X-Slack-Signature", slackSign(tsv, signed))
	return do(h.t, req)
}

// TestSlackDenyModalAndAllowList: Deny opens a modal (views.open with the
// click's trigger_id) and decides nothing; the modal's submission denies
// with the reason. A Slack user outside SLACK_APPROVERS gets an ephemeral
// refusal and decides nothing; a user the rule does not list is refused
// by the service, in the modal.
func TestSlackDenyModalAndAllowList(t *testing.T) {
	t.Parallel()
	h := start(t, "", func(c *config.Config) { c.SlackApprovers = []string{alice.ID, bob.ID} })
	h.policy(routed(map[string]any{"approvers": []string{"slack:" + alice.ID, approverName}}))
	r := h.create("deploy", map[string]any{"service": "billing"})
	h.slackPost(r.ID, "#ops")

	// Mallory is not in SLACK_APPROVERS.
	mallory := slackUser{ID: "U0MALLORY", Name: "alice"}
	if st, _ := h.sendSlack(h.slackClick(mallory, "approve_"+r.ID, r.ID), time.Now(), slackSecret); st != http.StatusOK {
		t.Fatalf("click: %d", st)
	}
	if _, err := h.slack.Wait("response_url", func(c channeltest.Call) bool {
		return strings.Contains(string(c.Body), "not allowed to decide AgentGate requests from Slack")
	}, waitTimeout); err != nil {
		t.Fatal(err)
	}
	// Bob passes SLACK_APPROVERS but not the rule's approvers, even with
	// the Slack name of an API key the rule lists: on Slack only the id
	// counts.
	spoof := slackUser{ID: bob.ID, Name: approverName}
	if st, _ := h.sendSlack(h.slackClick(spoof, "approve_"+r.ID, r.ID), time.Now(), slackSecret); st != http.StatusOK {
		t.Fatalf("click: %d", st)
	}
	if _, err := h.slack.Wait("response_url", func(c channeltest.Call) bool {
		return strings.Contains(string(c.Body), "only the rule&#39;s approvers") || strings.Contains(string(c.Body), "only the rule's approvers")
	}, waitTimeout); err != nil {
		t.Fatal(err)
	}
	if got := h.get(r.ID); got.Status != "pending" {
		t.Fatalf("refused clicks decided: %+v", got)
	}

	// Alice clicks Deny: a modal opens, nothing is decided yet.
	click := h.slackClick(alice, "deny_"+r.ID, r.ID)
	if st, _ := h.sendSlack(click, time.Now(), slackSecret); st != http.StatusOK {
		t.Fatalf("deny click: %d", st)
	}
	view, err := h.slack.Wait("views.open", nil, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(view.Body), `"trigger_id":"trigger-`) || !strings.Contains(string(view.Body), `"callback_id":"agentgate_decide"`) {
		t.Fatalf("views.open: %s", view.Body)
	}
	if got := h.get(r.ID); got.Status != "pending" {
		t.Fatalf("opening the modal decided: %+v", got)
	}
	// Bob submits a forged modal: the service refuses him, in the modal.
	st, out := h.sendSlack(slackSubmit(spoof, r.ID, "denied", "no"), time.Now(), slackSecret)
	if st != http.StatusOK || !strings.Contains(out, `"response_action":"errors"`) || !strings.Contains(out, "approvers") {
		t.Fatalf("bob's submission: %d %s", st, out)
	}
	st, out = h.sendSlack(slackSubmit(alice, r.ID, "denied", "touches <!channel> prod *now*"), time.Now(), slackSecret)
	if st != http.StatusOK || !strings.Contains(out, `"response_action":"clear"`) {
		t.Fatalf("alice's submission: %d %s", st, out)
	}
	got := h.get(r.ID)
	if got.Status != "denied" || got.DecidedByID != "slack:U0ALICE" || got.DecisionReason != "touches <!channel> prod *now*" {
		t.Fatalf("after the modal: %+v", got)
	}
	// The reason reaches the message as plain text (no mention, no bold).
	up, err := h.slack.Wait("chat.update", func(c channeltest.Call) bool {
		return strings.Contains(c.Form.Get("blocks"), "Denied by alice")
	}, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	assertPlainOnly(t, up.Form.Get("blocks"), "<!channel>")
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func slackSign(ts string, body []byte) string { return slack.Sign(slackSecret, ts, body) }

// assertPlainOnly checks that needle (agent or user text) appears in the
// Slack blocks, and never in a mrkdwn text object.
func assertPlainOnly(t *testing.T, blocksJSON, needle string) {
	t.Helper()
	var blocks any
	if err := json.Unmarshal([]byte(blocksJSON), &blocks); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	found := false
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if text, ok := x["text"].(string); ok && strings.Contains(text, needle) {
				found = true
				if x["type"] == "mrkdwn" {
					t.Errorf("agent text %q in a mrkdwn object: %v", needle, x)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(blocks)
	if !found {
		t.Errorf("%q not shown in the blocks:\n%s", needle, blocksJSON)
	}
}
