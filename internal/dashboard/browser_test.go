package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/testserver"
)

// apiCall sends a JSON request with a bearer key and decodes the answer.
func apiCall(t testing.TB, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func createRequest(t testing.TB, srv *testserver.Server, agentKey, body string) string {
	t.Helper()
	st, m := apiCall(t, "POST", srv.URL+"/api/requests", agentKey, body)
	if st != http.StatusCreated {
		t.Fatalf("create request: %d %v", st, m)
	}
	return m["id"].(string)
}

// dialogs records every JavaScript dialog (alert, confirm) the tab opens:
// an injected script would open one.
func dialogs(t testing.TB, ctx context.Context) func() []string {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			mu.Lock()
			seen = append(seen, d.Message)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// TestBrowserLiveQueueAndApprove is the approver's main path: a request
// created after the queue loaded appears without a reload, the approver
// approves it with a reason on its page, and the agent's long-poll gets
// the decision and the reason.
func TestBrowserLiveQueueAndApprove(t *testing.T) {
	bctx := newBrowser(t)
	srv := testserver.Start(t, nil)
	approver := srv.CreateKey(t, "alice", auth.ScopeRequestDecide, auth.ScopeRequestRead)
	agent := srv.CreateKey(t, "deploy-bot", auth.ScopeRequestCreate, auth.ScopeRequestRead)
	ctx := newTab(t, bctx)
	if err := chromedp.Do(ctx, viewport(1280, 800, false, false)); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, srv.URL, approver)
	// The live stream is open once the indicator says so; a marker on
	// window shows later that the page was never reloaded.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("[data-live-indicator].is-live"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string]("window.__loaded = 'once'")); err != nil {
		t.Fatal(err)
	}

	id := createRequest(t, srv, agent, `{"action":"deploy","urgency":"high","params":{"service":"payments-api","environment":"production"}}`)
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.ID("r-"+id)))
	cancel()
	if err != nil {
		t.Fatalf("the new request did not appear in the queue within a second: %v", err)
	}
	marker, err := chromedp.Run(ctx, chromedp.Evaluate[string]("window.__loaded"))
	if err != nil || marker != "once" {
		t.Fatalf("the page was reloaded (marker %q, %v)", marker, err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || !strings.HasPrefix(title, "(1) ") {
		t.Errorf("tab title = %q, want the pending count (1) first", title)
	}

	// The agent waits for the decision.
	type waitResult struct {
		status int
		body   map[string]any
	}
	waited := make(chan waitResult, 1)
	go func() {
		st, m := apiCall(t, "GET", srv.URL+"/api/requests/"+id+"/wait?timeout=30s", agent, "")
		waited <- waitResult{st, m}
	}()

	const reason = "Change window is open; canary looked healthy."
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#r-"+id+" a.action")),
		chromedp.WaitVisible(chromedp.ID("reason")),
		chromedp.SendKeys(chromedp.ID("reason"), reason),
		chromedp.Click(chromedp.CSS("button[data-approve]")),
		chromedp.WaitVisible(chromedp.CSS("[data-empty]")), // back on the queue, now empty
	)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	select {
	case w := <-waited:
		if w.status != http.StatusOK || w.body["status"] != "approved" || w.body["decisionReason"] != reason || w.body["decidedBy"] != "alice" {
			t.Fatalf("long-poll answer: %d %v, want approved by alice with the reason", w.status, w.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent's long-poll did not return after the approval")
	}
}

// TestBrowserShowsAgentDataAsText sends markup and script in every field
// an agent controls; the queue (live card and server-rendered card) and
// the request page show it as text, and nothing runs.
func TestBrowserShowsAgentDataAsText(t *testing.T) {
	bctx := newBrowser(t)
	srv := testserver.Start(t, nil)
	approver := srv.CreateKey(t, "alice", auth.ScopeRequestDecide, auth.ScopeRequestRead)
	agent := srv.CreateKey(t, "<img src=x onerror=alert('name')>", auth.ScopeRequestCreate)
	ctx := newTab(t, bctx)
	seen := dialogs(t, ctx)
	signIn(t, ctx, srv.URL, approver)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("[data-live-indicator].is-live"))); err != nil {
		t.Fatal(err)
	}
	payload := `<script>alert('param')</script>`
	id := createRequest(t, srv, agent, mustJSON(t, map[string]any{
		"action":  `<svg onload=alert('action')>`,
		"params":  map[string]any{"note": payload, `<b onmouseover=alert(1)>key</b>`: "x", "nested": map[string]any{"html": payload}},
		"context": map[string]any{"why": `"><script>alert('context')</script>`},
	}))
	noMarkup := `document.querySelectorAll('main script, main img, main svg:not(.icon):not(.logo), main b').length`
	check := func(where string) {
		t.Helper()
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, payload) {
			t.Errorf("%s: the param is not shown as text; main says %q", where, text)
		}
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](noMarkup))
		if err != nil || n != 0 {
			t.Errorf("%s: %d elements came from agent data (%v)", where, n, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("r-"+id))); err != nil {
		t.Fatal(err)
	}
	check("live card")
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("r-"+id))); err != nil {
		t.Fatal(err)
	}
	check("server-rendered card")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/requests/"+id), chromedp.WaitVisible(chromedp.CSS(".jv"))); err != nil {
		t.Fatal(err)
	}
	check("request page")
	if d := seen(); len(d) > 0 {
		t.Errorf("agent data ran script: dialogs %q", d)
	}
}

// TestBrowserPhoneApprove approves from the phone layout (390×844): the
// queue is a card list with big buttons.
func TestBrowserPhoneApprove(t *testing.T) {
	bctx := newBrowser(t)
	srv := testserver.Start(t, nil)
	approver := srv.CreateKey(t, "alice", auth.ScopeRequestDecide)
	agent := srv.CreateKey(t, "support-agent", auth.ScopeRequestCreate)
	id := createRequest(t, srv, agent, `{"action":"send_email","params":{"to":"jordan@example.com","subject":"Your order shipped"}}`)
	ctx := newTab(t, bctx)
	if err := chromedp.Do(ctx, viewport(390, 844, true, false)); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, srv.URL, approver)
	btn := "#r-" + id + " form.quick button"
	box, err := chromedp.Run(ctx, chromedp.Dimensions(chromedp.CSS(btn)))
	if err != nil {
		t.Fatal(err)
	}
	if w := box.Width; w < 150 || box.Height < 44 {
		t.Errorf("the phone's Approve button is %vx%v px; want a big touch target", w, box.Height)
	}
	navVisible, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector('.nav')).display !== 'none'`))
	if err != nil || navVisible {
		t.Errorf("the desktop navigation shows on a phone (%v)", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(btn)),
		chromedp.WaitNotPresent(chromedp.ID("r-"+id)),
	); err != nil {
		t.Fatalf("approve on the phone: %v", err)
	}
	req, err := srv.App.Approvals.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != "approved" || req.DecidedBy != "alice" || req.DecidedByID == "" {
		t.Fatalf("after the tap: status %s by %q", req.Status, req.DecidedBy)
	}
}
