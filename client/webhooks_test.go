package client

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The webhook calls are checked against a scripted server that answers
// with the REST API's documented shapes.
func TestWebhookCalls(t *testing.T) {
	t.Parallel()
	hook := `{"id":"wh_1","url":"https://example.com/hook","events":["request.decided"],"enabled":true,` +
		`"secretEncrypted":false,"createdBy":"admin","createdAt":"2026-01-02T03:04:05.678Z","updatedAt":"2026-01-02T03:04:05.678Z"}`
	created := hook[:len(hook)-1] + `,"secret":"whsec_abc","message":"Save the secret now"}`
	delivery := `{"id":"dlv_1","webhookId":"wh_1","event":"test","requestId":null,"status":"success","attempts":1,` +
		`"lastStatusCode":200,"lastError":null,"nextAttemptAt":null,"createdAt":"2026-01-02T03:04:05.678Z",` +
		`"updatedAt":"2026-01-02T03:04:05.678Z","completedAt":"2026-01-02T03:04:05.900Z"}`
	f, srv := newFake(t, map[string][]answer{
		"POST /api/webhooks":           {{status: 201, body: created}},
		"GET /api/webhooks":            {{status: 200, body: `{"webhooks":[` + hook + `]}`}},
		"DELETE /api/webhooks/wh_1":    {{status: 200, body: `{"success":true,"id":"wh_1"}`}},
		"DELETE /api/webhooks/wh_9":    {{status: 404, body: `{"error":"Webhook not found"}`}},
		"POST /api/webhooks/wh_1/test": {{status: 200, body: `{"success":true,"statusCode":200,"durationMs":12,"error":null,"responseBody":"ok","delivery":` + delivery + `}`}},
	})
	c, _ := fakeClient(t, srv.URL)
	ctx := testCtx(t)

	cw, err := c.CreateWebhook(ctx, WebhookInput{URL: "https://example.com/hook", Events: []string{WebhookRequestDecided}, Enabled: new(true)})
	if err != nil || cw.ID != "wh_1" || cw.Secret != "whsec_abc" || cw.CreatedAt.IsZero() {
		t.Fatalf("CreateWebhook = %+v, %v", cw, err)
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(f.bodies("POST /api/webhooks")[0]), &sent); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"url": "https://example.com/hook", "events": []any{"request.decided"}, "enabled": true}
	if d := cmp.Diff(want, sent); d != "" {
		t.Errorf("CreateWebhook body (-want +got):\n%s", d)
	}

	hooks, err := c.ListWebhooks(ctx)
	if err != nil || len(hooks) != 1 || hooks[0].URL != "https://example.com/hook" || !hooks[0].Enabled {
		t.Errorf("ListWebhooks = %+v, %v", hooks, err)
	}
	res, err := c.TestWebhook(ctx, "wh_1")
	if err != nil || !res.Success || *res.StatusCode != 200 || res.Delivery.ID != "dlv_1" || !res.Delivery.NextAttemptAt.IsZero() {
		t.Errorf("TestWebhook = %+v, %v", res, err)
	}
	if err := c.DeleteWebhook(ctx, "wh_1"); err != nil {
		t.Errorf("DeleteWebhook: %v", err)
	}
	if err := c.DeleteWebhook(ctx, "wh_9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteWebhook(unknown) = %v, want ErrNotFound", err)
	}
}
