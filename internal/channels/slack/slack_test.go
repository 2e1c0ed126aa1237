package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/channels"
	"github.com/agentgate/agentgate/internal/channels/channeltest"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	body := []byte("payload=%7B%7D")
	ts := strconv.FormatInt(now.Unix(), 10)
	header := func(ts, sig string) http.Header {
		h := http.Header{}
		if ts != "" {
			h.Set(HeaderTimestamp, ts)
		}
		if sig != "" {
			h.Set(HeaderSignature, sig)
		}
		return h
	}
	old := strconv.FormatInt(now.Add(-MaxSkew-time.Second).Unix(), 10)
	edge := strconv.FormatInt(now.Add(-MaxSkew).Unix(), 10)
	for _, tc := range []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"valid", header(ts, Sign("s3", ts, body)), body, nil},
		{"at the edge of the window", header(edge, Sign("s3", edge, body)), body, nil},
		{"no headers", header("", ""), body, ErrMissingSignature},
		{"no signature", header(ts, ""), body, ErrMissingSignature},
		{"wrong secret", header(ts, Sign("other", ts, body)), body, ErrBadSignature},
		{"other body", header(ts, Sign("s3", ts, body)), []byte("payload=x"), ErrBadSignature},
		{"signature of another time", header(ts, Sign("s3", old, body)), body, ErrBadSignature},
		{"stale", header(old, Sign("s3", old, body)), body, ErrStale},
		{"not a number", header("soon", Sign("s3", "soon", body)), body, ErrBadSignature},
		{"v1 scheme", header(ts, strings.Replace(Sign("s3", ts, body), "v0=", "v1=", 1)), body, ErrBadSignature},
	} {
		if got := Verify("s3", tc.h, tc.body, now); got != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func request(params string) *approval.Request {
	return &approval.Request{ID: "req_1", Action: "deploy <@U123> *now*", Params: json.RawMessage(params),
		Context: json.RawMessage(`{"ticket":"<https://evil.example|click>"}`), Urgency: approval.UrgencyHigh,
		Status: approval.StatusPending, AgentName: "agent <!here>", CreatedAt: time.Unix(0, 0)}
}

// TestAgentTextStaysLiteral: the action, params, context and agent name
// appear only in plain_text objects and preformatted rich text, never in
// mrkdwn; the notification text is escaped.
func TestAgentTextStaysLiteral(t *testing.T) {
	t.Parallel()
	m := &channels.Message{Request: request(`{"cmd":"<!channel> ` + "```" + ` *x* &amp;"}`), DashboardURL: "https://gate.example.com/requests/req_1"}
	b, err := json.Marshal(Blocks(m))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []map[string]any
	if err := json.Unmarshal(b, &blocks); err != nil {
		t.Fatal(err)
	}
	var mrkdwn []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "mrkdwn" {
				mrkdwn = append(mrkdwn, x["text"].(string))
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
	for _, bl := range blocks {
		walk(bl)
	}
	for _, s := range mrkdwn {
		for _, bad := range []string{"<!channel>", "<@U123>", "<!here>", "evil.example", "deploy"} {
			if strings.Contains(s, bad) {
				t.Errorf("agent text %q in mrkdwn %q", bad, s)
			}
		}
	}
	js := string(b)
	for _, want := range []string{`"type":"rich_text_preformatted"`, `\u003c!channel\u003e`, `deploy \u003c@U123\u003e *now*`, `"action_id":"approve_req_1"`,
		`"action_id":"deny_req_1"`, `"url":"https://gate.example.com/requests/req_1"`} {
		if !strings.Contains(js, want) {
			t.Errorf("blocks lack %s:\n%s", want, js)
		}
	}

	fake := channeltest.NewSlack()
	defer fake.Close()
	n := NewNotifier(NewClient(Config{Token: "xoxb-1", APIURL: fake.APIURL()}))
	if _, err := n.Post(context.Background(), &channels.Notification{Target: "#ops"}, m); err != nil {
		t.Fatal(err)
	}
	c := fake.Calls("chat.postMessage")[0]
	if text := c.Form.Get("text"); !strings.Contains(text, "deploy &lt;@U123&gt;") || strings.Contains(text, "<@U123>") {
		t.Errorf("notification text not escaped: %q", text)
	}
}

// TestDecidedMessage: once decided, the message says by whom and why and
// offers no buttons but the link.
func TestDecidedMessage(t *testing.T) {
	t.Parallel()
	r := request(`{}`)
	r.Status, r.DecidedBy, r.DecidedByID, r.DecidedByType = approval.StatusDenied, "alice", "slack:U1", approval.ActorHuman
	r.DecisionReason = "not today"
	b, _ := json.Marshal(Blocks(&channels.Message{Request: r, DashboardURL: "https://g/requests/req_1"}))
	js := string(b)
	if !strings.Contains(js, "Denied by alice (slack:U1)") || !strings.Contains(js, "Reason: not today") ||
		strings.Contains(js, "approve_req_1") || !strings.Contains(js, "open_req_1") {
		t.Errorf("decided blocks:\n%s", js)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	fake := channeltest.NewSlack()
	defer fake.Close()
	codes := map[string]bool{"channel_not_found": true, "invalid_auth": true, "internal_error": false, "ratelimited": false}
	for code, permanent := range codes {
		fake.SetFail(func(string) string { return code })
		n := NewNotifier(NewClient(Config{Token: "xoxb-1", APIURL: fake.APIURL()}))
		_, err := n.Post(context.Background(), &channels.Notification{Target: "#ops"}, &channels.Message{Request: request(`{}`)})
		if err == nil || channels.IsPermanent(err) != permanent {
			t.Errorf("%s: err %v, permanent %v, want %v", code, err, channels.IsPermanent(err), permanent)
		}
	}
}
