package channels_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/config"
)

// TestEmailDecisionLinks: the mail arrives (text and HTML, params escaped);
// following its approve link (GET, as a mail scanner would) decides
// nothing; confirming (POST) approves as the recipient; the same link
// again is refused; the sibling deny link is refused too, by GET and by
// POST, and the request stays approved.
func TestEmailDecisionLinks(t *testing.T) {
	t.Parallel()
	onBothDatabases(t, func(t *testing.T, dbURL string) {
		h := start(t, dbURL, nil)
		h.policy(routed(nil))
		r := h.createRaw(`{"action":"deploy","params":{"service":"<script>alert(1)</script>"}}`)
		approve, deny := h.decisionLinks(opsAddress, r.ID)

		m, err := h.smtp.WaitMail(opsAddress, waitTimeout)
		if err != nil {
			t.Fatal(err)
		}
		hdr, err := m.Header()
		if err != nil {
			t.Fatal(err)
		}
		if subj := hdr.Get("Subject"); !strings.Contains(subj, "Approval needed: deploy") {
			t.Errorf("subject %q", subj)
		}
		html, err := m.Part("text/html")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
			t.Errorf("params not escaped in the HTML part")
		}
		if !strings.Contains(html, approve) || !strings.Contains(html, deny) {
			t.Errorf("the HTML part lacks the links")
		}

		// A scanner (or the person) opens the link: a confirmation page,
		// no decision.
		for range 2 {
			st, phdr, body := h.page("GET", approve, nil)
			if st != http.StatusOK || !strings.Contains(body, "Approve this request?") || !strings.Contains(body, `<form method="post"`) {
				t.Fatalf("GET approve link: %d\n%s", st, body)
			}
			checkPageHeaders(t, phdr, body)
			if strings.Contains(body, "<script>alert") {
				t.Fatal("params not escaped on the page")
			}
		}
		if st, _, _ := h.page("HEAD", approve, nil); st != http.StatusOK {
			t.Fatalf("HEAD: %d", st)
		}
		if got := h.get(r.ID); got.Status != "pending" {
			t.Fatalf("GET decided the request: %+v", got)
		}

		st, phdr, body := h.page("POST", approve, url.Values{"reason": {"checked the diff"}})
		if st != http.StatusOK || !strings.Contains(body, "Approved") {
			t.Fatalf("POST approve: %d\n%s", st, body)
		}
		checkPageHeaders(t, phdr, body)
		got := h.get(r.ID)
		if got.Status != "approved" || got.DecidedByID != "email:"+opsAddress || got.DecidedBy != opsAddress || got.DecisionReason != "checked the diff" {
			t.Fatalf("after POST: %+v", got)
		}

		if st, _, body := h.page("POST", approve, url.Values{"reason": {"again"}}); st != http.StatusGone || !strings.Contains(body, "already used") {
			t.Fatalf("reused link: %d\n%s", st, body)
		}
		if st, _, body := h.page("GET", deny, nil); st != http.StatusGone || !strings.Contains(body, "other link") {
			t.Fatalf("GET sibling: %d\n%s", st, body)
		}
		if st, _, body := h.page("POST", deny, url.Values{}); st != http.StatusGone || !strings.Contains(body, "other link") {
			t.Fatalf("POST sibling: %d\n%s", st, body)
		}
		if got := h.get(r.ID); got.Status != "approved" {
			t.Fatalf("the sibling changed the decision: %+v", got)
		}
		if st, _, _ := h.page("GET", "/decide/"+strings.Repeat("A", 43), nil); st != http.StatusNotFound {
			t.Fatalf("unknown token: %d", st)
		}
		if st, _, _ := h.page("GET", "/decide/short", nil); st != http.StatusNotFound {
			t.Fatalf("malformed token: %d", st)
		}
	})
}

// checkPageHeaders: the pages leak no URL (their path is the credential),
// cannot be framed, load nothing, and their one inline style is the one
// the CSP's hash allows.
func checkPageHeaders(t *testing.T, hdr http.Header, body string) {
	t.Helper()
	if hdr.Get("Referrer-Policy") != "no-referrer" || hdr.Get("Cache-Control") != "no-store" || hdr.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", hdr)
	}
	if !strings.Contains(body, `<meta name="referrer" content="no-referrer">`) {
		t.Errorf("no referrer meta tag")
	}
	csp := hdr.Get("Content-Security-Policy")
	m := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no inline style")
	}
	sum := sha256.Sum256([]byte(m[1]))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, want) || !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("CSP %q does not allow exactly the page's style (%s)", csp, want)
	}
	if strings.Contains(body, "<script") {
		t.Errorf("the page has a script")
	}
}

// TestEmailRequiredReasonAndLimits: a rule that requires a reason makes the
// POST without one show the form again (400) and keeps the link usable;
// with a reason it denies. An expired link is refused. The pages are rate
// limited per client address.
func TestEmailRequiredReasonAndLimits(t *testing.T) {
	t.Parallel()
	h := start(t, "", func(c *config.Config) { c.DecisionLinkTTL = time.Minute })
	h.policy(routed(map[string]any{"requireReason": true, "channels": []string{"email:" + opsAddress, "email:lead@example.com"}}))
	r := h.create("deploy", map[string]any{"service": "billing"})
	_, deny := h.decisionLinks(opsAddress, r.ID)
	// Both mails must be out before the decision: a post job that runs
	// after it rightly sends nothing (the request is decided).
	lead, _ := h.decisionLinks("lead@example.com", r.ID)
	st, _, body := h.page("POST", deny, url.Values{"reason": {"  "}})
	if st != http.StatusBadRequest || !strings.Contains(body, "a reason is required") || !strings.Contains(body, "<textarea") {
		t.Fatalf("POST without reason: %d\n%s", st, body)
	}
	st, _, body = h.page("POST", deny, url.Values{"reason": {"wrong window"}})
	if st != http.StatusOK || !strings.Contains(body, "Denied") {
		t.Fatalf("POST with reason: %d\n%s", st, body)
	}
	// The other recipient's links: the request is decided now.
	if st, _, body := h.page("GET", lead, nil); st != http.StatusConflict || !strings.Contains(body, "already decided") ||
		!strings.Contains(body, "Denied by "+opsAddress) {
		t.Fatalf("other recipient after the decision: %d\n%s", st, body)
	}

	// Rate limit: 30 page requests per minute per address; the earlier
	// ones of this test count too.
	limited := false
	for range 40 {
		if st, hdr, _ := h.page("GET", lead, nil); st == http.StatusTooManyRequests {
			limited = hdr.Get("Retry-After") != ""
			break
		}
	}
	if !limited {
		t.Fatal("40 page requests in a row were not rate limited")
	}
}
