package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
)

// httpFake is a scripted HTTP server with some state.
type httpFake struct {
	URL   string
	srv   *httptest.Server
	mu    sync.Mutex
	hooks map[string]map[string]any
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// allCommands returns c and every command below it.
func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, allCommands(sub)...)
	}
	return out
}

func TestRelTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{-time.Second, "just now"},
		{-45 * time.Second, "45s ago"},
		{-3*time.Minute - 20*time.Second, "3m ago"},
		{12 * time.Minute, "in 12m"},
		{-5 * time.Hour, "5h ago"},
		{72 * time.Hour, "in 3d"},
	} {
		if got := relTime(now.Add(tc.d), now); got != tc.want {
			t.Errorf("relTime(now%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := relTime(time.Time{}, now); got != "-" {
		t.Errorf("relTime(zero) = %q", got)
	}
	if got := relTime(now.Add(-90*24*time.Hour), now); !regexp.MustCompile(`^\d{4}-\d\d-\d\d$`).MatchString(got) {
		t.Errorf("relTime(90 days ago) = %q, want a date", got)
	}
}

func TestDurations(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{4 * time.Second: "4s", 65 * time.Second: "1m05s", 2*time.Hour + 3*time.Minute: "2h03m"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{30 * time.Minute: "30m", time.Hour: "1h", 90 * time.Minute: "1h30m", 45 * time.Second: "45s", 300 * time.Millisecond: "300ms"} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestMaskKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"agk_abcdEFGHijklMNOPqrstUVWXyz0123456789-_ABCDE": "agk_abcd…BCDE",
		"a-long-admin-secret-1234":                        "a-lo…1234",
		"agk_short":                                       "agk_••••",
		"":                                                "",
	} {
		if got := maskKey(in); got != want {
			t.Errorf("maskKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShellJoin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"./deploy.sh", "prod"}, "./deploy.sh prod"},
		{[]string{"sh", "-c", "echo $HOME; exit 7"}, "sh -c 'echo $HOME; exit 7'"},
		{[]string{"echo", "it's", ""}, `echo 'it'\''s' ''`},
		{[]string{"make", "VERSION=1.2", "--jobs=4"}, "make VERSION=1.2 --jobs=4"},
	} {
		if got := shellJoin(tc.argv); got != tc.want {
			t.Errorf("shellJoin(%q) = %q, want %q", tc.argv, got, tc.want)
		}
	}
}

func TestCIFacts(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got := ciFacts(env(nil)); got != nil {
		t.Errorf("outside CI: %v", got)
	}
	gl := ciFacts(env(map[string]string{"GITLAB_CI": "true", "CI": "true", "CI_JOB_URL": "https://gitlab.example/j/1",
		"CI_PROJECT_PATH": "acme/shop", "CI_COMMIT_SHA": "abc", "GITLAB_USER_LOGIN": "alice"}))
	if gl["provider"] != "gitlab-ci" || gl["jobUrl"] != "https://gitlab.example/j/1" || gl["repository"] != "acme/shop" || gl["actor"] != "alice" {
		t.Errorf("GitLab facts = %v", gl)
	}
	if got := ciFacts(env(map[string]string{"CI": "true"})); got["provider"] != "ci" || len(got) != 1 {
		t.Errorf("generic CI facts = %v", got)
	}
	if got := ciFacts(env(map[string]string{"CI": "false"})); got != nil {
		t.Errorf("CI=false: %v", got)
	}
}

// Coloured cells keep the columns aligned: every cell of a coloured
// column carries the same invisible bytes.
func TestTableAlignsColours(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		var b bytes.Buffer
		tb := newTable(&b, palette{on: on}, "ID", "STATUS", "ACTION")
		tb.color(1, statusSGR)
		tb.add("req_1", "approved", "deploy")
		tb.add("req_22", "denied", "x")
		tb.add("req_333", "pending", "")
		if err := tb.flush(); err != nil {
			t.Fatal(err)
		}
		ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
		lines := strings.Split(strings.TrimSuffix(ansi.ReplaceAllString(b.String(), ""), "\n"), "\n")
		col := strings.Index(lines[0], "ACTION")
		for _, l := range lines[1:3] {
			if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
				t.Errorf("colour %v: column not aligned at %d:\n%s", on, col, strings.Join(lines, "\n"))
			}
		}
		if strings.HasSuffix(lines[3], " ") {
			t.Errorf("trailing spaces: %q", lines[3])
		}
		if on != strings.Contains(b.String(), "\x1b[32mapproved") {
			t.Errorf("colour %v, output %q", on, b.String())
		}
	}
}

func TestColorRules(t *testing.T) {
	t.Parallel()
	a := newCLIApp()
	env := map[string]string{}
	a.getenv = func(k string) string { return env[k] }
	// A buffer is never a terminal, whatever the settings.
	if a.colorOn(&bytes.Buffer{}) {
		t.Error("colour on a buffer")
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		defer null.Close()
		if isTerminal(null) {
			t.Error("/dev/null counts as a terminal")
		}
	}
	// /dev/zero is a character device like a terminal: it stands in for
	// one to check the switches that turn colours off.
	tty, err := os.OpenFile("/dev/zero", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/zero")
	}
	defer tty.Close()
	if !a.colorOn(tty) {
		t.Error("no colour on a character device")
	}
	for _, tc := range []struct {
		name string
		set  func()
	}{
		{"NO_COLOR", func() { env["NO_COLOR"] = "1" }},
		{"TERM=dumb", func() { env["TERM"] = "dumb" }},
		{"--no-color", func() { a.noColor = true }},
	} {
		clear(env)
		a.noColor = false
		tc.set()
		if a.colorOn(tty) {
			t.Errorf("colour despite %s", tc.name)
		}
	}
}

// The spinner redraws one line with the elapsed time, and clears it
// when stopped; disabled, it writes nothing.
func TestSpinner(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b syncBuffer
		s := startSpinner(&b, true, palette{}, "waiting for req_1")
		time.Sleep(2*time.Second + 50*time.Millisecond)
		synctest.Wait()
		s.Stop()
		out := b.String()
		if !strings.Contains(out, "⠋ waiting for req_1 · 0s") || !strings.Contains(out, "waiting for req_1 · 2s") {
			t.Errorf("spinner frames: %q", out)
		}
		if !strings.HasSuffix(out, "\r\x1b[K") {
			t.Errorf("the spinner did not clear its line: %q", out[len(out)-20:])
		}
		if n := strings.Count(out, "\r"); n < 20 || n > 23 {
			t.Errorf("%d redraws in 2s, want about 21 (every 100ms)", n)
		}
		var quiet syncBuffer
		startSpinner(&quiet, false, palette{}, "x").Stop()
		if quiet.String() != "" {
			t.Errorf("a disabled spinner wrote %q", quiet.String())
		}
	})
}

func TestOutcomeAndExitCodes(t *testing.T) {
	t.Parallel()
	ri := 2
	for _, tc := range []struct {
		r    client.Request
		line string
		code int
	}{
		{client.Request{Status: client.StatusApproved, DecidedBy: "alice", DecidedByType: client.ActorHuman, DecisionReason: "ship it"}, `✔ approved by alice: "ship it"`, 0},
		{client.Request{Status: client.StatusApproved, DecidedBy: "bot", DecidedByLabel: "Alice (on call)", DecidedByType: client.ActorHuman}, "✔ approved by Alice (on call) (key bot)", 0},
		{client.Request{Status: client.StatusDenied, DecidedByType: client.ActorPolicy, DecisionReason: `policy "guard" rule 2 matched: auto_deny`,
			PolicyDecision: client.PolicyDecision{PolicyName: "guard", RuleIndex: &ri}}, `✘ denied by policy "guard" (rule 2)`, 3},
		{client.Request{Status: client.StatusExpired, DecidedByType: client.ActorSystem, DecisionReason: "No decision before the request expired"}, `⌛ expired: "No decision before the request expired"`, 4},
		{client.Request{Status: client.StatusPending}, "… pending", 0},
	} {
		if got := outcomeLine(&tc.r, palette{}); got != tc.line {
			t.Errorf("outcomeLine = %q, want %q", got, tc.line)
		}
		code := 0
		if err := exitFor(&tc.r); err != nil {
			code = err.(*exitError).code
		}
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d", tc.r.Status, code, tc.code)
		}
	}
}
