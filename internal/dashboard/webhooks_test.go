package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/testserver"
)

// allowPrivateWebhooks lets test webhooks reach httptest receivers on
// loopback.
func allowPrivateWebhooks(c *config.Config) {
	c.WebhookAllowPrivate = true
	c.WebhookRetryBase = 10 * time.Millisecond
	c.WebhookMaxAttempts = 2
}

func TestWebhookPages(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-AgentGate-Signature") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	f := newFixture(t, &testserver.Options{Configure: allowPrivateWebhooks})
	c := newClient(t, f.srv, f.srv.CreateKey(t, "hooks-person", auth.ScopeRequestDecide, auth.ScopeWebhookManage))

	// Bad input is shown next to the form.
	if p := c.post("/webhooks", url.Values{"url": {"ftp://x"}, "event": {"request.created"}}); p.status != 400 || !strings.Contains(p.body, `role="alert"`) {
		t.Fatalf("bad URL: %d", p.status)
	}
	if p := c.post("/webhooks", url.Values{"url": {receiver.URL}}); p.status != 400 || !strings.Contains(p.body, "at least one event") {
		t.Fatalf("no events: %d", p.status)
	}
	p := c.post("/webhooks", url.Values{"url": {receiver.URL}, "event": {"request.created", "request.decided"}})
	if p.status != http.StatusCreated || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %s", p.status, p.header.Get("Cache-Control"))
	}
	secret := regexp.MustCompile(`id="new-secret" class="secret-value">([^<]+)<`).FindStringSubmatch(p.body)
	if secret == nil || len(secret[1]) < 16 {
		t.Fatal("the new webhook's secret is not shown")
	}
	id := regexp.MustCompile(`href="/webhooks/(whk_[^"]+)"`).FindStringSubmatch(p.body)
	if id == nil {
		t.Fatal("the new webhook is not linked")
	}
	hook := "/webhooks/" + id[1]
	if p := c.get("/webhooks"); strings.Contains(p.body, secret[1]) {
		t.Error("the list shows the secret again")
	}

	// A request event is delivered and shows in the log.
	f.request(t, `{"action":"deploy"}`)
	eventually(t, 10*time.Second, "the delivery", func() bool { return got.Load() >= 1 })
	eventually(t, 5*time.Second, "the delivery log", func() bool {
		return strings.Contains(c.get(hook+"?status=success").body, "request.created")
	})
	detail := c.get(hook)
	did := regexp.MustCompile(`/deliveries/(dlv_[^/]+)/replay`).FindStringSubmatch(detail.body)
	if did == nil {
		t.Fatalf("no replay button on a finished delivery: %s", detail.body)
	}
	if p := c.get(hook + "?delivery=" + did[1]); p.status != 200 || !strings.Contains(p.body, "HTTP 204") {
		t.Errorf("attempts: %d", p.status)
	}
	before := got.Load()
	if p := c.post(hook+"/deliveries/"+did[1]+"/replay", url.Values{}); p.status != 303 || p.header.Get("Location") != hook+"?toast=replayed" {
		t.Fatalf("replay: %d %s", p.status, p.header.Get("Location"))
	}
	eventually(t, 10*time.Second, "the replayed delivery", func() bool { return got.Load() > before })

	// Test, disable, delete.
	if p := c.post(hook+"/test", url.Values{}); p.status != 200 || !strings.Contains(p.body, "delivered") {
		t.Fatalf("test: %d", p.status)
	}
	if p := c.post(hook+"/toggle", url.Values{"enabled": {"false"}, "next": {hook}}); p.status != 303 {
		t.Fatalf("disable: %d", p.status)
	}
	if p := c.get(hook); !strings.Contains(p.body, ">disabled<") {
		t.Error("the webhook does not show as disabled")
	}
	if p := c.post(hook+"/delete", url.Values{}); p.status != 303 {
		t.Fatalf("delete: %d", p.status)
	}
	if p := c.get(hook); p.status != 404 {
		t.Errorf("deleted webhook: %d", p.status)
	}

	// Without webhook:manage the pages are refused and hidden.
	other := newClient(t, f.srv, f.approver)
	if p := other.get("/webhooks"); p.status != 403 {
		t.Errorf("approver on /webhooks: %d", p.status)
	}
	if strings.Contains(other.get("/").body, `href="/webhooks"`) {
		t.Error("the approver's navigation links to webhooks")
	}
}
