package dashboard_test

import (
	"context"
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
	// AGENTGATE_SCREENSHOTS_FULL=1 captures whole pages, for reviewing
	// the layout below the fold; the docs use the viewport.
	full := os.Getenv("AGENTGATE_SCREENSHOTS_FULL") != ""
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
		setup func(phone bool) chromedp.Action[chromedp.Void] // after the page loaded
	}
	same := func(a chromedp.Action[chromedp.Void]) func(bool) chromedp.Action[chromedp.Void] {
		return func(bool) chromedp.Action[chromedp.Void] { return a }
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
		{"policy-edit", "/policies/" + policyID, same(chromedp.Steps(
			// A draft that would auto-approve SQL: the simulation shows what changes.
			chromedp.SetValue(chromedp.ID("policy-json"), draftPolicy),
			chromedp.Click(chromedp.CSS(`button[formaction="/policies/simulate"]`)),
			chromedp.WaitVisible(chromedp.CSS(".sim-summary")),
		))},
		{"queue-selecting", "/", func(phone bool) chromedp.Action[chromedp.Void] {
			if phone {
				// Selection mode: a tap on a card ticks it. The cards are
				// tapped in the middle of the screen, clear of the bar that
				// sticks to its bottom.
				return chromedp.Steps(
					chromedp.Click(chromedp.CSS("[data-select-mode]")),
					tap("#queue > .card:nth-child(2) .card-main"),
					tap("#queue > .card:nth-child(3) .card-main"),
					script(`window.scrollTo(0, 0)`),
					chromedp.WaitVisible(chromedp.CSS("form[data-bulk]")),
				)
			}
			return chromedp.Steps(
				tap("#queue > .card:nth-child(2) .pick"),
				tap("#queue > .card:nth-child(3) .pick"),
				script(`document.activeElement.blur(); window.scrollTo(0, 0)`),
				chromedp.WaitVisible(chromedp.CSS("form[data-bulk]")),
			)
		}},
		{"request-quorum", "/requests/" + d.pending[1].ID, nil},
		{"request-approve-edit", "/requests/" + d.pending[5].ID, same(chromedp.Steps(
			// Open the editor, lower the node count, and offer a grant.
			// Opened by script: a screenshot needs no flaky click (the
			// browser tests click it).
			script(`document.querySelector("[data-edit-params]").open = true`),
			chromedp.WaitVisible(chromedp.ID("params-edit")),
			chromedp.WaitReady(chromedp.CSS("#params-edit:not([disabled])")),
			chromedp.SetValue(chromedp.ID("params-edit"), "{\n  \"cluster\": \"gke-prod-eu\",\n  \"nodePool\": \"workers\",\n  \"from\": 12,\n  \"to\": 16\n}"),
			chromedp.SendKeys(chromedp.ID("params-edit"), " "),
			chromedp.SetValue(chromedp.ID("grant"), "1h"),
			chromedp.Sleep(300*time.Millisecond),
		))},
		{"request-edited", "/requests/" + d.edited.ID, nil},
		{"grants", "/grants", nil},
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
				shoot := chromedp.CaptureScreenshot()
				if full {
					shoot = chromedp.FullScreenshot(100)
				}
				png, err := chromedp.Run(ctx, shoot)
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
				if dev.dark && s.name != "queue" && s.name != "request" && s.name != "request-edited" {
					continue
				}
				// body.js: the script ran, so the layout no longer moves.
				steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.URL + s.path), chromedp.WaitVisible(chromedp.CSS("main")),
					chromedp.WaitReady(chromedp.CSS("body.js"))}
				if s.setup != nil {
					steps = append(steps, s.setup(dev.phone))
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

// script runs a statement in the page.
func script(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any]("(() => { "+js+"; return null })()")(ctx, t)
		return err
	})
}

// tap clicks sel after scrolling it to the middle of the screen, clear of
// the bars that stick to the top and the bottom.
func tap(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		script(`document.querySelector("`+sel+`").scrollIntoView({block: "center"})`),
		chromedp.Click(chromedp.CSS(sel)),
	)
}
