package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/testserver"
)

// waitFor runs the agent's long-poll in the background; the channel gets
// its answer.
func waitFor(t *testing.T, srv *testserver.Server, key, id string) <-chan map[string]any {
	t.Helper()
	ch := make(chan map[string]any, 1)
	go func() {
		st, m := apiCall(t, "GET", srv.URL+"/api/requests/"+id+"/wait?timeout=30s", key, "")
		if st != http.StatusOK {
			m = map[string]any{"httpStatus": st}
		}
		ch <- m
	}()
	return ch
}

// run runs actions one by one, each within 10 seconds, and names the one
// that failed: a wait that never ends fails instead of hanging the test.
func run(ctx context.Context, actions ...chromedp.Action[chromedp.Void]) error {
	for i, a := range actions {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := chromedp.Do(actx, a)
		cancel()
		if err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	return nil
}

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// TestBrowserApproveWithEditedParams edits the params on the request
// page: a value that is not a JSON object is caught in the page, an edit
// the policies deny is refused next to the editor (422), and an allowed
// edit is approved; the agent's long-poll returns approvedParams and the
// page shows the diff.
func TestBrowserApproveWithEditedParams(t *testing.T) {
	bctx := newBrowser(t)
	f := newFixture(t, nil)
	refundPolicies(t, f.srv)
	id := f.request(t, `{"action":"refund","params":{"amount":250,"currency":"EUR","order":"o-77"}}`)
	waited := waitFor(t, f.srv, f.agent, id)
	ctx := newTab(t, bctx)
	if err := chromedp.Do(ctx, viewport(1280, 900, false, false)); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, f.srv.URL, f.approver)
	pending := func(where string) {
		t.Helper()
		if r, _ := f.srv.App.Approvals.Get(t.Context(), id); r.Status != approval.StatusPending {
			t.Fatalf("%s: the request is %s", where, r.Status)
		}
	}
	err := run(ctx,
		chromedp.Navigate(f.srv.URL+"/requests/"+id),
		chromedp.WaitReady(chromedp.CSS("body.js")), // the script ran: the layout is final
		chromedp.WaitVisible(chromedp.CSS("[data-edit-params] > summary")),
		chromedp.Click(chromedp.CSS("[data-edit-params] > summary")),
		chromedp.WaitVisible(chromedp.ID("params-edit")),
		// Not an object: the page says so and sends nothing.
		chromedp.SetValue(chromedp.ID("params-edit"), `[1, 2]`),
		chromedp.Click(chromedp.CSS("button[data-approve]")),
		chromedp.WaitVisible(chromedp.CSS("[data-params-error]")),
	)
	if err != nil {
		t.Fatalf("invalid edit: %v", err)
	}
	if msg := textOf(t, ctx, "[data-params-error]"); !strings.Contains(msg, "must be a JSON object") {
		t.Errorf("client-side message %q", msg)
	}
	pending("after an invalid edit")

	// An edit the policies deny: the server's 422 shows next to the editor.
	err = run(ctx,
		chromedp.SetValue(chromedp.ID("params-edit"), `{"amount": 5000, "currency": "EUR", "order": "o-77"}`),
		chromedp.SendKeys(chromedp.ID("params-edit"), " "),
		chromedp.WaitNotVisible(chromedp.CSS("[data-params-error]")),
		chromedp.Click(chromedp.CSS("button[data-approve]")),
		chromedp.WaitVisible(chromedp.CSS("[data-params-error]")),
	)
	if err != nil {
		t.Fatalf("denied edit: %v", err)
	}
	if msg := textOf(t, ctx, "[data-params-error]"); !strings.Contains(msg, "the edited request would be denied") {
		t.Errorf("422 message %q", msg)
	}
	pending("after an edit the policies deny")

	// An allowed edit.
	err = run(ctx,
		chromedp.SetValue(chromedp.ID("params-edit"), `{"amount": 200, "currency": "EUR", "order": "o-77", "note": "partial refund"}`),
		chromedp.SendKeys(chromedp.ID("params-edit"), " "),
		chromedp.WaitVisible(chromedp.CSS("[data-edit-note]")),
		chromedp.SendKeys(chromedp.ID("reason"), "Half the order shipped."),
		chromedp.Click(chromedp.CSS("button[data-approve]")),
		chromedp.WaitVisible(chromedp.CSS(".edit-panel")),
	)
	if err != nil {
		t.Fatalf("approve with edits: %v", err)
	}
	select {
	case m := <-waited:
		ap, _ := m["approvedParams"].(map[string]any)
		if m["status"] != "approved" || ap == nil || ap["amount"] != float64(200) || ap["note"] != "partial refund" {
			t.Fatalf("the agent's long-poll: %v, want approvedParams with the edits", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent's long-poll did not return")
	}
	panel := textOf(t, ctx, ".edit-panel")
	for _, want := range []string{"Approved with edited params", "amount", "250", "200", "note", "added", `"partial refund"`} {
		if !strings.Contains(panel, want) {
			t.Errorf("the diff panel lacks %q: %q", want, panel)
		}
	}
	if tl := textOf(t, ctx, ".timeline"); !strings.Contains(tl, "Approved with edited params by alice") || !strings.Contains(tl, "partial refund") {
		t.Errorf("the timeline lacks the edited approval: %q", tl)
	}
}

// TestBrowserBulkApprove selects requests in the queue, with a click and
// with the keyboard (j, x), and approves them together; one that needs a
// reason stays, marked with why.
func TestBrowserBulkApprove(t *testing.T) {
	bctx := newBrowser(t)
	f := newFixture(t, nil)
	refundPolicies(t, f.srv)
	a := f.request(t, `{"action":"refund","urgency":"high","params":{"amount":10}}`)
	b := f.request(t, `{"action":"send_email","params":{"to":"x@example.com"}}`)
	needsReason := f.request(t, `{"action":"wipe","urgency":"low"}`)
	ctx := newTab(t, bctx)
	if err := chromedp.Do(ctx, viewport(1280, 800, false, false)); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, f.srv.URL, f.approver)
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("form[data-bulk]").hidden`))
	if err != nil || !hidden {
		t.Errorf("the bulk bar shows before anything is selected (%v)", err)
	}
	err = run(ctx,
		chromedp.Click(chromedp.CSS("#r-"+a+" .pick")),
		chromedp.WaitVisible(chromedp.CSS("form[data-bulk]")),
		// j moves to the first card, j again to the second; x selects it.
		chromedp.KeyEvent("j"), chromedp.KeyEvent("j"), chromedp.KeyEvent("x"),
		chromedp.WaitVisible(chromedp.CSS("#r-"+b+".is-picked")),
		chromedp.Click(chromedp.CSS("#r-"+needsReason+" .pick")),
	)
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	if label := strings.Join(strings.Fields(textOf(t, ctx, "button[data-bulk-approve]")), " "); label != "Approve selected (3)" {
		t.Errorf("button says %q", label)
	}
	err = run(ctx,
		chromedp.Click(chromedp.CSS("button[data-bulk-approve]")),
		chromedp.WaitNotPresent(chromedp.ID("r-"+a)),
		chromedp.WaitNotPresent(chromedp.ID("r-"+b)),
		chromedp.WaitVisible(chromedp.CSS("#r-"+needsReason+" [data-f=result]")),
	)
	if err != nil {
		t.Fatalf("bulk approve: %v", err)
	}
	if res := textOf(t, ctx, "#r-"+needsReason+" [data-f=result]"); res != "Skipped: requires a reason" {
		t.Errorf("the remaining card says %q", res)
	}
	if sum := textOf(t, ctx, "[data-bulk-result]"); sum != "2 approved · 1 skipped" {
		t.Errorf("summary %q", sum)
	}
	for id, want := range map[string]approval.Status{a: approval.StatusApproved, b: approval.StatusApproved, needsReason: approval.StatusPending} {
		r, err := f.srv.App.Approvals.Get(t.Context(), id)
		if err != nil || r.Status != want || (want == approval.StatusApproved && r.DecidedBy != "alice") {
			t.Errorf("%s: %s by %s, want %s (%v)", id, r.Status, r.DecidedBy, want, err)
		}
	}
}

// TestBrowserPhoneSelectionMode: on a phone the checkboxes show in
// selection mode, a tap on a card selects it, and the bar's buttons are
// big enough to tap.
func TestBrowserPhoneSelectionMode(t *testing.T) {
	bctx := newBrowser(t)
	f := newFixture(t, nil)
	ids := []string{
		f.request(t, `{"action":"send_email","params":{"to":"a@example.com"}}`),
		f.request(t, `{"action":"send_email","params":{"to":"b@example.com"}}`),
		f.request(t, `{"action":"send_email","params":{"to":"c@example.com"}}`),
	}
	ctx := newTab(t, bctx)
	if err := chromedp.Do(ctx, viewport(390, 844, true, false)); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, f.srv.URL, f.approver)
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector(".card .pick")).display !== "none"`))
	if err != nil || shown {
		t.Errorf("checkboxes show on a phone outside selection mode (%v)", err)
	}
	err = run(ctx,
		chromedp.Click(chromedp.CSS("[data-select-mode]")),
		chromedp.WaitVisible(chromedp.CSS("#r-"+ids[0]+" .pick")),
		chromedp.Click(chromedp.CSS("#r-"+ids[0]+" .summary")),
		chromedp.Click(chromedp.CSS("#r-"+ids[2]+" .action")), // the link selects too, in selection mode
		chromedp.WaitVisible(chromedp.CSS("#r-"+ids[2]+".is-picked")),
	)
	if err != nil {
		t.Fatalf("selection mode: %v", err)
	}
	if u, _ := chromedp.Run(ctx, chromedp.Location()); strings.Contains(u, "/requests/") {
		t.Fatalf("a tap in selection mode opened %s", u)
	}
	box, err := chromedp.Run(ctx, chromedp.Dimensions(chromedp.CSS("button[data-bulk-deny]")))
	if err != nil {
		t.Fatal(err)
	}
	if box.Height < 44 || box.Width < 150 {
		t.Errorf("the phone's Deny selected button is %vx%v px", box.Width, box.Height)
	}
	// Deny asks for a reason first.
	err = run(ctx,
		chromedp.Click(chromedp.CSS("button[data-bulk-deny]")),
		chromedp.WaitVisible(chromedp.CSS("#bulk-reason[aria-invalid=true]")),
		chromedp.SendKeys(chromedp.ID("bulk-reason"), "Duplicates"),
		chromedp.Click(chromedp.CSS("button[data-bulk-deny]")),
		chromedp.WaitNotPresent(chromedp.ID("r-"+ids[0])),
		chromedp.WaitNotPresent(chromedp.ID("r-"+ids[2])),
	)
	if err != nil {
		res, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("[data-bulk-result]").textContent + " | " + Array.from(document.querySelectorAll("[data-f=result]")).map(e => e.textContent + ": " + e.title).join("; ")`))
		t.Fatalf("bulk deny on a phone: %v (bar says %q)", err, res)
	}
	for i, want := range []approval.Status{approval.StatusDenied, approval.StatusPending, approval.StatusDenied} {
		if r, _ := f.srv.App.Approvals.Get(t.Context(), ids[i]); r.Status != want || (want == approval.StatusDenied && r.DecisionReason != "Duplicates") {
			t.Errorf("request %d: %s (%q), want %s", i, r.Status, r.DecisionReason, want)
		}
	}
}

// TestBrowserGrantFromRequestPage approves with "also approve the same
// for the next hour"; the agent's next request is approved by the grant
// at once; revoking it on the Grants page sends the one after to a
// person again.
func TestBrowserGrantFromRequestPage(t *testing.T) {
	bctx := newBrowser(t)
	f := newFixture(t, nil)
	refundPolicies(t, f.srv)
	first := f.request(t, `{"action":"refund","params":{"amount":12}}`)
	ctx := newTab(t, bctx)
	if err := chromedp.Do(ctx, viewport(1280, 900, false, false)); err != nil {
		t.Fatal(err)
	}
	seen := dialogs(t, ctx)
	signIn(t, ctx, f.srv.URL, f.approver)
	err := run(ctx,
		chromedp.Navigate(f.srv.URL+"/requests/"+first),
		chromedp.WaitReady(chromedp.CSS("body.js")),
		chromedp.WaitVisible(chromedp.ID("grant")),
		chromedp.SetValue(chromedp.ID("grant"), "1h"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error { // the script listens for change
			_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("grant").dispatchEvent(new Event("change"))`))
			return err
		}),
		chromedp.WaitVisible(chromedp.ID("grant-uses")),
		chromedp.SendKeys(chromedp.ID("grant-uses"), "5"),
		chromedp.Click(chromedp.CSS("button[data-approve]")),
		chromedp.WaitVisible(chromedp.CSS(".grant-card")),
	)
	if err != nil {
		t.Fatalf("approve with a grant: %v", err)
	}
	if card := textOf(t, ctx, ".grant-card"); !strings.Contains(card, "Grant given") || !strings.Contains(card, "Used 0 of 5 uses") {
		t.Errorf("grant card %q", card)
	}

	st, m := apiCall(t, "POST", f.srv.URL+"/api/requests", f.agent, `{"action":"refund","params":{"amount":30}}`)
	if st != http.StatusCreated || m["status"] != "approved" || m["decidedByType"] != "grant" {
		t.Fatalf("the next request: %d %v, want approved by the grant", st, m)
	}
	grantID, _ := m["grantId"].(string)
	if grantID == "" {
		t.Fatalf("no grantId in %v", m)
	}

	err = run(ctx,
		chromedp.Navigate(f.srv.URL+"/grants"),
		chromedp.WaitReady(chromedp.CSS("body.js")),
		chromedp.WaitVisible(chromedp.ID("g-"+grantID)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if row := textOf(t, ctx, "#g-"+grantID); !strings.Contains(row, "1 of 5") || !strings.Contains(row, "alice") {
		t.Errorf("grants row %q", row)
	}
	err = run(ctx,
		chromedp.Click(chromedp.CSS("#g-"+grantID+" details.confirm > summary")),
		chromedp.WaitVisible(chromedp.CSS("#g-"+grantID+" .confirm-box button")),
		chromedp.Click(chromedp.CSS("#g-"+grantID+" .confirm-box button")),
		chromedp.WaitVisible(chromedp.CSS(".gs-revoked")),
	)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if st, m := apiCall(t, "POST", f.srv.URL+"/api/requests", f.agent, `{"action":"refund","params":{"amount":31}}`); st != http.StatusCreated || m["status"] != "pending" {
		t.Fatalf("after the revoke: %d %v, want pending", st, m)
	}
	if d := seen(); len(d) > 0 {
		t.Errorf("the page opened dialogs: %q", d)
	}
}
