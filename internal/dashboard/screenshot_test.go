package dashboard_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentgate/agentgate/internal/testserver"
	"github.com/agentgate/agentgate/internal/webhook"
)

const draftPolicy = `{
  "name": "Production changes need a person",
  "priority": 20,
  "enabled": true,
  "rules": [
    {
      "match": { "action": "deploy", "params.environment": "production" },
      "decision": "route_to_human",
      "requireReason": true,
      "timeout": "1h",
      "onTimeout": "deny"
    },
    {
      "match": { "action": "run_sql" },
      "decision": "auto_approve"
    }
  ]
}`

// TestScreenshots writes a PNG of every page, on a desktop (1280×800) and
// a phone (390×844), with demo data, into the folder named by
// AGENTGATE_SCREENSHOTS (e.g. docs/screenshots, relative to the
// repository root). Without the variable it is skipped.
//
//	AGENTGATE_SCREENSHOTS=docs/screenshots go test ./internal/dashboard -run TestScreenshots
func TestScreenshots(t *testing.T) {
	out := os.Getenv("AGENTGATE_SCREENSHOTS")
	if out == "" {
		t.Skip("AGENTGATE_SCREENSHOTS not set; screenshots not taken")
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join("..", "..", out) // tests run in the package folder
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, &testserver.Options{Configure: allowPrivateWebhooks})
	d := seedDemo(t, srv)
	hooks, err := srv.App.Webhooks.List(t.Context())
	if err != nil || len(hooks) == 0 {
		t.Fatalf("demo webhooks: %v", err)
	}
	// Let the deliveries (and the failing one's retries) run first.
	eventually(t, 20*time.Second, "the demo deliveries", func() bool {
		ds, _, err := srv.App.Webhooks.Deliveries(t.Context(), webhook.DeliveryFilter{WebhookID: hooks[1].ID, Statuses: []string{webhook.StatusFailed}, Limit: 100})
		return err == nil && len(ds) >= len(d.pending)
	})

	type shot struct {
		name  string
		path  string
		setup chromedp.Action[chromedp.Void] // after the page loaded
	}
	req := d.pending[0].ID
	var policyID string
	if ps, err := srv.App.Approvals.Policies(t.Context()); err == nil {
		for _, p := range ps {
			if p.Name == "Production changes need a person" {
				policyID = p.ID
			}
		}
	}
	shots := []shot{
		{"queue", "/", nil},
		{"request", "/requests/" + req, nil},
		{"history", "/history", nil},
		{"policies", "/policies", nil},
		{"policy-edit", "/policies/" + policyID, chromedp.Steps(
			// A draft that would auto-approve SQL: the simulation shows what changes.
			chromedp.SetValue(chromedp.ID("policy-json"), draftPolicy),
			chromedp.Click(chromedp.CSS(`button[formaction="/policies/simulate"]`)),
			chromedp.WaitVisible(chromedp.CSS(".sim-summary")),
		)},
		{"keys", "/keys", nil},
		{"webhooks", "/webhooks", nil},
		{"webhook", "/webhooks/" + hooks[1].ID, nil},
		{"audit", "/audit", nil},
	}
	for _, dev := range []struct {
		name  string
		w, h  int64
		phone bool
		dark  bool
	}{
		{"desktop", 1280, 800, false, false},
		{"phone", 390, 844, true, false},
		{"desktop-dark", 1280, 800, false, true},
	} {
		t.Run(dev.name, func(t *testing.T) {
			// A browser per device: a second tab of one headless browser may
			// never paint, and its screenshot then waits forever.
			ctx := newBrowser(t)
			if err := chromedp.Do(ctx, viewport(dev.w, dev.h, dev.phone, dev.dark)); err != nil {
				t.Fatal(err)
			}
			take := func(name string) {
				t.Helper()
				png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(out, name+"-"+dev.name+".png")
				if err := os.WriteFile(file, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", file)
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/signin"), chromedp.WaitVisible(chromedp.ID("key"))); err != nil {
				t.Fatal(err)
			}
			take("signin")
			signIn(t, ctx, srv.URL, d.adminKey)
			for _, s := range shots {
				if dev.dark && s.name != "queue" && s.name != "request" {
					continue
				}
				steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.URL + s.path), chromedp.WaitVisible(chromedp.CSS("main"))}
				if s.setup != nil {
					steps = append(steps, s.setup)
				}
				steps = append(steps, chromedp.Sleep(400*time.Millisecond)) // let the live indicator connect and animations end
				if err := chromedp.Do(ctx, steps...); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				take(s.name)
			}
		})
	}
}
