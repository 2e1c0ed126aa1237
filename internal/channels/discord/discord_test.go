package discord

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
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
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":1}`)
	sign := func(key ed25519.PrivateKey, ts string, b []byte) http.Header {
		h := http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, hex.EncodeToString(ed25519.Sign(key, append([]byte(ts), b...))))
		return h
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Add(-MaxSkew-time.Second).Unix(), 10)
	short := sign(priv, ts, body)
	short.Set(HeaderSignature, "abcd")
	for _, tc := range []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"valid", sign(priv, ts, body), body, nil},
		{"no headers", http.Header{}, body, ErrMissingSignature},
		{"other key", sign(other, ts, body), body, ErrBadSignature},
		{"other body", sign(priv, ts, body), []byte(`{"type":3}`), ErrBadSignature},
		{"short signature", short, body, ErrBadSignature},
		{"stale", sign(priv, old, body), body, ErrStale},
	} {
		if got := Verify(pub, tc.h, tc.body, now); got != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := ParsePublicKey("zz"); err == nil {
		t.Error("ParsePublicKey accepted junk")
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain text":               "plain text",
		"**bold** _it_ ~~s~~":      `\*\*bold\*\* \_it\_ \~\~s\~\~`,
		"[click](https://evil)":    `\[click\](https://evil)`,
		"@everyone look":           "@\u200beveryone look",
		"# heading\n> quote\n- li": "\\# heading\n\\> quote\n\\- li",
		"a-b (c) #1":               "a-b (c) #1",
		"`code` ||spoiler||":       "\\`code\\` \\|\\|spoiler\\|\\|",
		`back\slash`:               `back\\slash`,
		"<@123> <#456>":            `\<@` + "\u200b" + `123> \<#456>`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRender: agent text cannot leave its code block or mention anyone;
// decided messages disable the buttons.
func TestRender(t *testing.T) {
	t.Parallel()
	r := &approval.Request{ID: "req_1", Action: "deploy **now** @everyone", Urgency: approval.UrgencyCritical,
		Status: approval.StatusPending, Params: json.RawMessage(`{"x":"` + "```" + ` @here [a](b)"}`), CreatedAt: time.Unix(0, 0)}
	msg := Render(&channels.Message{Request: r, DashboardURL: "https://g/requests/req_1"})
	b, _ := json.Marshal(msg)
	js := string(b)
	if strings.Contains(msg.Embeds[0].Fields[3].Value[3:len(msg.Embeds[0].Fields[3].Value)-3], "```") {
		t.Errorf("params can close their code block: %q", msg.Embeds[0].Fields[3].Value)
	}
	if msg.AllowedMentions == nil || len(msg.AllowedMentions.Parse) != 0 || !strings.Contains(js, `"allowed_mentions":{"parse":[]}`) {
		t.Errorf("mentions not disabled: %s", js)
	}
	if !strings.Contains(msg.Embeds[0].Title, `deploy \*\*now\*\* @`+"\u200b"+`everyone`) {
		t.Errorf("title %q", msg.Embeds[0].Title)
	}
	row := msg.Components[0].Components
	if row[0].CustomID != "approve:req_1" || row[1].CustomID != "deny:req_1" || row[0].Disabled || row[2].URL != "https://g/requests/req_1" {
		t.Errorf("buttons: %+v", row)
	}
	r.Status, r.DecidedBy, r.DecidedByID, r.DecidedByType = approval.StatusApproved, "carol", "discord:4", approval.ActorHuman
	msg = Render(&channels.Message{Request: r})
	if !msg.Components[0].Components[0].Disabled || !msg.Components[0].Components[1].Disabled || msg.Embeds[0].Color != colorApproved {
		t.Errorf("decided message: %+v", msg)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	fake := channeltest.NewDiscord()
	defer fake.Close()
	c := NewClient(fake.URL, "tok", "test", nil)
	m, err := c.CreateMessage(context.Background(), "42", &MessageBody{Content: "hi"})
	if err != nil || m.ID == "" || m.ChannelID != "42" {
		t.Fatalf("create: %+v %v", m, err)
	}
	for status, permanent := range map[int]bool{404: true, 403: true, 429: false, 500: false, 502: false} {
		fake.SetFail(func(channeltest.Call) int { return status })
		_, err := c.CreateMessage(context.Background(), "42", &MessageBody{})
		if err == nil || channels.IsPermanent(err) != permanent || !strings.Contains(err.Error(), "HTTP "+strconv.Itoa(status)) {
			t.Errorf("status %d: %v (permanent %v)", status, err, channels.IsPermanent(err))
		}
	}
}
