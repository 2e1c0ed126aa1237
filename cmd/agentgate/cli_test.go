package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/testserver"
)

// The tests in this file run the built binary (binPath, from TestMain) as
// a user would, against a real server started in-process.

// cliEnv is a server plus the keys and environment to run the CLI with.
type cliEnv struct {
	t        *testing.T
	srv      *testserver.Server
	home     string
	admin    string // admin key
	agent    string // request:create, request:read
	approver string // request:decide, request:read
	// policyID is the test policy: cli.ok* auto-approved, cli.no*
	// auto-denied, the rest routed to a person.
	policyID string
}

func newCLIEnv(t *testing.T, opts *testserver.Options) *cliEnv {
	t.Helper()
	srv := testserver.Start(t, opts)
	e := &cliEnv{t: t, srv: srv, home: t.TempDir(), admin: srv.AdminKey,
		agent:    srv.CreateKey(t, "ci-bot", auth.ScopeRequestCreate, auth.ScopeRequestRead),
		approver: srv.CreateKey(t, "alice", auth.ScopeRequestDecide, auth.ScopeRequestRead)}
	p, err := e.sdk(e.admin).CreatePolicy(t.Context(), client.PolicyInput{Name: "cli-test", Priority: new(1), Rules: []client.Rule{
		{Match: map[string]any{"action": map[string]any{"$glob": "cli.ok*"}}, Decision: client.DecisionAutoApprove},
		{Match: map[string]any{"action": map[string]any{"$glob": "cli.no*"}}, Decision: client.DecisionAutoDeny},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.policyID = p.ID
	return e
}

func (e *cliEnv) sdk(key string) *client.Client {
	c, err := client.New(e.srv.URL, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// baseEnv is the process environment without anything that would change
// the CLI's behaviour (settings, CI markers, colours).
func baseEnv(home string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AGENTGATE_") || strings.HasPrefix(k, "GITHUB_") || strings.HasPrefix(k, "CI_") ||
			slices.Contains([]string{"HOME", "CI", "GITLAB_CI", "CIRCLECI", "BUILDKITE", "JENKINS_URL", "NO_COLOR", "TERM"}, k) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+home, "TERM=dumb")
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// command prepares the CLI with key against the test server; extra are
// more environment variables.
func (e *cliEnv) command(key string, extra []string, args ...string) *exec.Cmd {
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(baseEnv(e.home), "AGENTGATE_URL="+e.srv.URL, "AGENTGATE_API_KEY="+key)
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// run runs the CLI to completion.
func (e *cliEnv) run(key string, args ...string) result {
	e.t.Helper()
	return runCmd(e.t, e.command(key, nil, args...), "")
}

func runCmd(t *testing.T, cmd *exec.Cmd, stdin string) result {
	t.Helper()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run %v: %v", cmd.Args, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// expect fails the test unless r has the exit code and its output
// contains every string of want.
func expect(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\n%s", r.code, code, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("output lacks %q\n%s", w, r)
		}
	}
}

// pendingID waits until a pending request with action exists and
// returns its id.
func (e *cliEnv) pendingID(action string) string {
	e.t.Helper()
	c := e.sdk(e.admin)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		pg, err := c.ListPage(e.t.Context(), client.ListOptions{Status: client.StatusPending, Action: action})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(pg.Requests) > 0 {
			return pg.Requests[0].ID
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no pending %s request appeared", action)
	return ""
}

// start starts the CLI in the background; wait collects its result.
type running struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	errb *syncBuffer
	done chan error
}

func (e *cliEnv) start(key string, extra []string, args ...string) *running {
	e.t.Helper()
	cmd := e.command(key, extra, args...)
	r := &running{cmd: cmd, out: &syncBuffer{}, errb: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = r.out, r.errb
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { r.done <- cmd.Wait() }()
	e.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *running) wait(t *testing.T) result {
	t.Helper()
	select {
	case err := <-r.done:
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{stdout: r.out.String(), stderr: r.errb.String(), code: code}
	case <-time.After(30 * time.Second):
		t.Fatalf("the CLI did not finish\nstdout:\n%s\nstderr:\n%s", r.out.String(), r.errb.String())
	}
	return result{}
}

func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	cases := []struct {
		name string
		key  string
		args []string
		code int
		want []string
	}{
		{"approved by a policy", e.agent, []string{"request", "cli.ok.read", "--wait"}, 0, []string{`approved by policy "cli-test" (rule 0)`}},
		{"denied by a policy", e.agent, []string{"request", "cli.no.delete", "--wait"}, 3, []string{`denied by policy "cli-test"`}},
		{"denied without --wait", e.agent, []string{"request", "cli.no.delete"}, 3, []string{"denied"}},
		{"pending without --wait", e.agent, []string{"request", "cli.pending"}, 0, []string{"pending", "agentgate approve req_"}},
		{"expired", e.agent, []string{"request", "cli.expires", "--expires-in", "1s", "--wait"}, 4, []string{"expired"}},
		{"timeout", e.agent, []string{"request", "cli.slow", "--wait", "--timeout", "300ms"}, 4, []string{"timed out after 300ms", "agentgate wait req_"}},
		{"no arguments", e.agent, []string{"request"}, 2, []string{"accepts 1 arg(s)", "agentgate request --help"}},
		{"bad urgency", e.agent, []string{"request", "x", "--urgency", "urgent"}, 2, []string{`--urgency "urgent": want low, normal, high or critical`}},
		{"params not an object", e.agent, []string{"request", "x", "--params", "[1,2]"}, 2, []string{"--params", "must be a JSON object"}},
		{"params not JSON", e.agent, []string{"request", "x", "--params", "{env:prod}"}, 2, []string{"--params: the value is not valid"}},
		{"unknown flag", e.agent, []string{"list", "--colour"}, 2, []string{"unknown flag: --colour"}},
		{"unknown command", e.agent, []string{"aprove", "x"}, 2, []string{`unknown command "aprove"`, "did you mean approve?"}},
		{"json and quiet", e.agent, []string{"list", "--json", "-q"}, 2, []string{"--json and --quiet cannot be used together"}},
		{"unknown request", e.agent, []string{"status", "req_nope"}, 1, []string{"request req_nope not found"}},
		{"bad key", "agk_" + strings.Repeat("x", 43), []string{"list"}, 1, []string{"API key rejected (401): check AGENTGATE_API_KEY or run `agentgate config set apiKey …`"}},
		{"no key", "", []string{"list"}, 1, []string{"no API key: set AGENTGATE_API_KEY or run `agentgate config set apiKey agk_…`"}},
		{"missing scope", e.agent, []string{"keys", "list"}, 1, []string{"this key lacks the scope: admin"}},
		{"missing decide scope", e.agent, []string{"approve", "req_nope"}, 1, []string{"this key lacks the scope: request:decide"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			expect(t, e.run(tc.key, tc.args...), tc.code, tc.want...)
		})
	}
	for _, args := range [][]string{{"list"}, {"tail"}, {"wait", "req_1"}, {"run", "--action", "x", "--", "true"}} {
		t.Run("unreachable "+args[0], func(t *testing.T) {
			t.Parallel()
			cmd := e.command(e.agent, []string{"AGENTGATE_URL=http://127.0.0.1:1"}, args...)
			expect(t, runCmd(t, cmd, ""), 1, "cannot reach AgentGate at http://127.0.0.1:1", "is the server running?")
		})
	}
}

// A person decides in another terminal while `request --wait` and
// `wait` wait: the decision ends the wait at once and sets the exit code.
func TestCLIHumanDecision(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	for _, tc := range []struct {
		verb, past, reason string
		code               int
		want               string
	}{
		{"approve", "approved", "ship it", 0, `✔ approved by alice: "ship it"`},
		{"deny", "denied", "not on a Friday", 3, `✘ denied by alice: "not on a Friday"`},
	} {
		t.Run(tc.verb, func(t *testing.T) {
			t.Parallel()
			action := "deploy." + tc.verb
			req := e.start(e.agent, nil, "request", action, "--params", `{"env":"prod"}`, "--wait")
			id := e.pendingID(action)
			waiter := e.start(e.agent, nil, "wait", id)
			expect(t, e.run(e.approver, tc.verb, id, "--reason", tc.reason), 0, id)
			expect(t, req.wait(t), tc.code, tc.want)
			expect(t, waiter.wait(t), tc.code, tc.want)
			// Deciding again says what happened instead.
			expect(t, e.run(e.approver, tc.verb, id), 1, fmt.Sprintf("request %s is already %s (by alice", id, tc.past))
		})
	}
	t.Run("interrupted", func(t *testing.T) {
		t.Parallel()
		id := strings.TrimSpace(e.run(e.agent, "request", "cli.interrupt", "-q").stdout)
		w := e.start(e.agent, nil, "wait", id)
		time.Sleep(300 * time.Millisecond) // let it start waiting
		_ = w.cmd.Process.Signal(os.Interrupt)
		expect(t, w.wait(t), 130, "interrupted: "+id+" is still pending", "agentgate wait "+id)
	})
	t.Run("the creator cannot decide", func(t *testing.T) {
		t.Parallel()
		admin := e.sdk(e.admin)
		k, err := admin.CreateKey(t.Context(), client.KeyInput{Name: "both", Scopes: []client.Scope{client.ScopeRequestCreate, client.ScopeRequestDecide}})
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSpace(e.run(k.Secret, "request", "cli.mine", "-q").stdout)
		expect(t, e.run(k.Secret, "approve", id), 1, "cannot approve "+id+": the identity that created a request cannot decide it")
	})
}

func TestCLIJSON(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	r := e.run(e.agent, "request", "cli.json", "--json", "--urgency", "high",
		"--params", `{"n":12345678901234567890,"price":1.10}`, "--context", `{"ticket":"T-1"}`)
	expect(t, r, 0)
	// Numbers come out exactly as the server sent them.
	if !strings.Contains(r.stdout, "12345678901234567890") || !strings.Contains(r.stdout, "1.10") {
		t.Errorf("--json changed the numbers:\n%s", r.stdout)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatalf("request --json is not JSON: %v\n%s", err, r)
	}
	id, _ := created["id"].(string)
	if created["status"] != "pending" || created["urgency"] != "high" || created["action"] != "cli.json" || !strings.HasPrefix(id, "req_") {
		t.Errorf("request --json = %v", created)
	}

	// status --json is the server's object, field for field.
	st := e.run(e.agent, "status", id, "--json")
	expect(t, st, 0)
	var got map[string]any
	if err := json.Unmarshal([]byte(st.stdout), &got); err != nil {
		t.Fatal(err)
	}
	want := rawGet(t, e.srv.URL+"/api/requests/"+id, e.agent)
	delete(got, "slaRemainingMs")
	delete(want, "slaRemainingMs")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("status --json differs from the API:\n got %v\nwant %v", got, want)
	}

	// Lists are JSON arrays of the server's objects.
	var list []map[string]any
	if err := json.Unmarshal([]byte(e.run(e.agent, "list", "--json").stdout), &list); err != nil || len(list) != 1 || list[0]["id"] != id {
		t.Errorf("list --json = %v, %v", list, err)
	}
	for range 3 {
		expect(t, e.run(e.agent, "request", "cli.page", "-q"), 0)
	}
	if err := json.Unmarshal([]byte(e.run(e.agent, "list", "--json", "--all", "--limit", "2").stdout), &list); err != nil || len(list) != 4 {
		t.Errorf("list --all --limit 2 --json: %d requests, %v; want 4", len(list), err)
	}
	ids := strings.Fields(e.run(e.agent, "list", "-q", "--action", "cli.page").stdout)
	if len(ids) != 3 {
		t.Errorf("list -q printed %v, want 3 ids", ids)
	}
	// The keys listing keeps the server's nulls (the SDK's types would
	// drop them): proof that --json prints what the server sent.
	var keys []map[string]any
	if err := json.Unmarshal([]byte(e.run(e.admin, "keys", "list", "--json").stdout), &keys); err != nil || len(keys) < 3 {
		t.Fatalf("keys list --json: %v, %v", keys, err)
	}
	if v, ok := keys[0]["revokedAt"]; !ok || v != nil {
		t.Errorf("keys list --json lost revokedAt: null: %v", keys[0])
	}
	// Decisions print the decided request.
	var decided map[string]any
	if err := json.Unmarshal([]byte(e.run(e.approver, "approve", id, "--reason", "ok", "--json").stdout), &decided); err != nil ||
		decided["status"] != "approved" || decided["decisionReason"] != "ok" {
		t.Errorf("approve --json = %v, %v", decided, err)
	}
	if s := strings.TrimSpace(e.run(e.agent, "status", id, "-q").stdout); s != "approved" {
		t.Errorf("status -q = %q, want approved", s)
	}
}

func rawGet(t *testing.T, url, key string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCLIConfig(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	home := t.TempDir()
	cli := func(extra []string, stdin string, args ...string) result {
		cmd := exec.Command(binPath, args...)
		cmd.Env = append(baseEnv(home), extra...)
		return runCmd(t, cmd, stdin)
	}

	// set creates ~/.agentgate (0700) and config.json (0600).
	expect(t, cli(nil, "", "config", "set", "url", "http://127.0.0.1:1/"), 0, "url = http://127.0.0.1:1")
	expect(t, cli(nil, e.agent+"\n", "config", "set", "apiKey", "-"), 0, "apiKey = agk_")
	dir := filepath.Join(home, ".agentgate")
	for path, mode := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "config.json"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), mode)
		}
	}
	if p := strings.TrimSpace(cli(nil, "", "config", "path").stdout); p != filepath.Join(dir, "config.json") {
		t.Errorf("config path = %q", p)
	}

	// Precedence: flag > environment > file > default.
	for _, tc := range []struct {
		name  string
		extra []string
		args  []string
		want  string
	}{
		{"file", nil, nil, "http://127.0.0.1:1"},
		{"environment over file", []string{"AGENTGATE_URL=http://env.example:2"}, nil, "http://env.example:2"},
		{"flag over environment", []string{"AGENTGATE_URL=http://env.example:2"}, []string{"--url", "http://flag.example:3"}, "http://flag.example:3"},
	} {
		got := strings.TrimSpace(cli(tc.extra, "", append([]string{"config", "get", "url"}, tc.args...)...).stdout)
		if got != tc.want {
			t.Errorf("%s: config get url = %q, want %q", tc.name, got, tc.want)
		}
	}
	// The file's URL is unreachable; the environment's wins and works,
	// with the key from the file.
	expect(t, cli(nil, "", "list"), 1, "cannot reach AgentGate at http://127.0.0.1:1", "The URL comes from config file")
	expect(t, cli([]string{"AGENTGATE_URL=" + e.srv.URL}, "", "list"), 0, "No requests.")
	expect(t, cli([]string{"AGENTGATE_URL=" + e.srv.URL, "AGENTGATE_API_KEY=agk_bad"}, "", "list"), 1, "API key rejected (401)", "comes from AGENTGATE_API_KEY")
	expect(t, cli([]string{"AGENTGATE_URL=" + e.srv.URL, "AGENTGATE_API_KEY=agk_bad"}, "", "list", "--api-key", e.agent), 0)

	// show masks the key and names each source.
	var show struct {
		ConfigFile string
		URL        struct{ Value, Source string }
		APIKey     struct{ Value, Source string } `json:"apiKey"`
	}
	r := cli([]string{"AGENTGATE_URL=" + e.srv.URL}, "", "config", "show", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &show); err != nil {
		t.Fatalf("config show --json: %v\n%s", err, r)
	}
	masked := regexp.MustCompile(`^agk_.{4}….{4}$`)
	if show.URL.Source != "AGENTGATE_URL" || !strings.HasPrefix(show.APIKey.Source, "config file") || !masked.MatchString(show.APIKey.Value) {
		t.Errorf("config show --json = %+v", show)
	}
	if strings.Contains(cli(nil, "", "config", "show").stdout, e.agent) {
		t.Error("config show prints the whole key")
	}

	// AGENTGATE_CONFIG points elsewhere; the upstream's serverUrl is read;
	// other members survive a rewrite; a file readable by others is
	// rewritten 0600 and warned about.
	other := filepath.Join(t.TempDir(), "cfg", "agentgate.json")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte(`{"serverUrl":"`+e.srv.URL+`","apiKey":"`+e.agent+`","outputFormat":"table"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"AGENTGATE_CONFIG=" + other}
	expect(t, cli(env, "", "list"), 0, "readable by other users", "chmod 600")
	expect(t, cli(env, "", "config", "set", "url", e.srv.URL), 0)
	data, _ := os.ReadFile(other)
	if fi, _ := os.Stat(other); fi.Mode().Perm() != 0o600 {
		t.Errorf("rewritten file has mode %04o", fi.Mode().Perm())
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	if m["url"] != e.srv.URL || m["outputFormat"] != "table" || m["serverUrl"] != nil {
		t.Errorf("rewritten file = %s", data)
	}
	expect(t, cli(env, "", "config", "set", "colour", "x"), 2, `unknown setting "colour"`)
	expect(t, cli(env, "", "config", "set", "url", "localhost:3000"), 2, "is not a server URL")
	expect(t, cli(env, "", "config", "unset", "apiKey"), 0)
	expect(t, cli(env, "", "list"), 1, "no API key")
}

func TestCLIRun(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	touch := "echo out; echo err >&2; touch " + marker

	// Denied: the command does not run.
	r := e.run(e.agent, "run", "--action", "cli.no.deploy", "--", "sh", "-c", touch)
	expect(t, r, 3, "denied by policy")
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a denied command ran")
	}
	// Approved: it runs with its output passed through, and who approved
	// on standard error only.
	r = e.run(e.agent, "run", "--action", "cli.ok.deploy", "--", "sh", "-c", touch)
	expect(t, r, 0)
	if r.stdout != "out\n" || !strings.Contains(r.stderr, "err\n") || !strings.Contains(r.stderr, "approved by policy") {
		t.Errorf("output not passed through:\n%s", r)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("an approved command did not run")
	}
	// Its exit status passes through; stdin too.
	expect(t, e.run(e.agent, "run", "--action", "cli.ok.exit", "--", "sh", "-c", "exit 7"), 7)
	cmd := e.command(e.agent, nil, "run", "--action", "cli.ok.cat", "--", "cat")
	if r := runCmd(t, cmd, "from stdin\n"); r.stdout != "from stdin\n" {
		t.Errorf("stdin not passed through:\n%s", r)
	}
	// A command that cannot run is reported before anyone is asked.
	expect(t, e.run(e.agent, "run", "--action", "cli.x", "--", "no-such-command-here"), 127, "command not found; nothing was asked")
	expect(t, e.run(e.agent, "run", "--", "true"), 2, "--action is required")

	// A person approves: the context tells them about the run, CI
	// included; the command learns the request id.
	ci := []string{"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=acme/shop", "GITHUB_RUN_ID=42", "GITHUB_SHA=abc123",
		"GITHUB_ACTOR=octocat", "GITHUB_SERVER_URL=https://github.com"}
	run := e.start(e.agent, ci, "run", "--action", "deploy.prod", "--context", `{"ticket":"OPS-1"}`, "--",
		"sh", "-c", `echo "id=$AGENTGATE_REQUEST_ID by=$AGENTGATE_DECIDED_BY"`)
	id := e.pendingID("deploy.prod")
	req, err := e.sdk(e.admin).Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var cx struct {
		CommandLine string            `json:"commandLine"`
		Cwd         string            `json:"cwd"`
		Host        string            `json:"host"`
		Ticket      string            `json:"ticket"`
		CI          map[string]string `json:"ci"`
	}
	if err := req.DecodeContext(&cx); err != nil {
		t.Fatal(err)
	}
	if cx.CommandLine != `sh -c 'echo "id=$AGENTGATE_REQUEST_ID by=$AGENTGATE_DECIDED_BY"'` || cx.Ticket != "OPS-1" || cx.Cwd == "" || cx.Host == "" ||
		cx.CI["provider"] != "github-actions" || cx.CI["repository"] != "acme/shop" || cx.CI["runUrl"] != "https://github.com/acme/shop/actions/runs/42" {
		t.Errorf("run context = %s", req.Context)
	}
	expect(t, e.run(e.approver, "approve", id, "--reason", "go"), 0)
	r = run.wait(t)
	expect(t, r, 0, `approved by alice: "go"`)
	if r.stdout != fmt.Sprintf("id=%s by=alice\n", id) {
		t.Errorf("command output %q", r.stdout)
	}

	// An approver who edits the params: the command gets the edit.
	edit := e.start(e.agent, nil, "run", "--action", "deploy.edit", "--params", `{"env":"prod"}`, "--", "sh", "-c", `echo "$AGENTGATE_PARAMS"`)
	eid := e.pendingID("deploy.edit")
	req2, _ := http.NewRequest("POST", e.srv.URL+"/api/requests/"+eid+"/decide", strings.NewReader(`{"decision":"approved","params":{"env":"staging"}}`))
	req2.Header.Set("Authorization", "Bearer "+e.approver)
	req2.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req2)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("decide with edited params: %v %v", resp, err)
	}
	resp.Body.Close()
	r = edit.wait(t)
	expect(t, r, 0, `the approver edited the params: {"env":"staging"}`)
	if r.stdout != `{"env":"staging"}`+"\n" {
		t.Errorf("AGENTGATE_PARAMS = %q, want the edited params", r.stdout)
	}

	// With an idempotency key a rerun finds the approved request and runs
	// at once, without asking again.
	args := []string{"run", "--action", "cli.idem", "--idempotency-key", "job-7", "--timeout", "1m", "--", "echo", "ran"}
	first := e.start(e.agent, nil, args...)
	idem := e.pendingID("cli.idem")
	expect(t, e.run(e.approver, "approve", idem), 0)
	expect(t, first.wait(t), 0, "ran")
	expect(t, e.run(e.agent, args...), 0, "ran", "approved by alice")
	if ids := strings.Fields(e.run(e.agent, "list", "--action", "cli.idem", "-q").stdout); len(ids) != 1 {
		t.Errorf("a rerun with the same idempotency key asked again: %v", ids)
	}
	// A relative expiry changes the request on every try: the reuse is
	// refused, with the way out.
	expect(t, e.run(e.agent, "request", "cli.idem2", "--idempotency-key", "k2", "--expires-in", "1h"), 0)
	expect(t, e.run(e.agent, "request", "cli.idem2", "--idempotency-key", "k2", "--expires-in", "1h"), 1, "use --expires-at")
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r1 := e.run(e.agent, "request", "cli.idem3", "--idempotency-key", "k3", "--expires-at", at, "-q")
	r2 := e.run(e.agent, "request", "cli.idem3", "--idempotency-key", "k3", "--expires-at", at, "-q")
	if r1.code != 0 || r1.stdout != r2.stdout {
		t.Errorf("--expires-at with an idempotency key: %s\n%s", r1, r2)
	}

	// --timeout: the request expires with the wait, and the exit is 4.
	expect(t, e.run(e.agent, "run", "--action", "cli.wait", "--timeout", "1s", "--", "touch", marker+"2"), 4, "expired")
	if _, err := os.Stat(marker + "2"); err == nil {
		t.Error("a command ran after its request expired")
	}
}

// Signals sent to run reach the running command; run exits with its
// status.
func TestCLIRunForwardsSignals(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	dir := t.TempDir()
	script := fmt.Sprintf(`trap 'echo got TERM > %[1]s/term; exit 42' TERM; touch %[1]s/started; while :; do sleep 0.05; done`, dir)
	run := e.start(e.agent, nil, "run", "--action", "cli.ok.signal", "--", "sh", "-c", script)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command did not start\n%s", run.errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expect(t, run.wait(t), 42)
	if b, err := os.ReadFile(filepath.Join(dir, "term")); err != nil || string(b) != "got TERM\n" {
		t.Errorf("the command did not get SIGTERM: %q, %v", b, err)
	}
}

func TestCLIPolicies(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good, `policies:
  - name: deploy-guard
    priority: 10
    rules:
      - match: {action: deploy, env: production}
        decision: route_to_human
        requireReason: true
        timeout: 30m
      - match: {action: {$glob: "read_*"}}
        decision: auto_approve
  - name: two-person
    priority: 20
    rules:
      - match: {action: db.drop}
        decision: route_to_human
        approvals: {required: 2}
        escalate: [{after: 10m, to: ["email:lead@example.com"]}]
`)
	write(bad, `policies:
  - name: broken
    rules:
      - match: {amount: {$gt: "5"}}
        decison: auto_approve
      - match: {action: x}
        decision: maybe
`)
	offline := func(args ...string) result {
		cmd := exec.Command(binPath, args...)
		cmd.Env = append(baseEnv(t.TempDir()), "AGENTGATE_URL=http://127.0.0.1:1")
		return runCmd(t, cmd, "")
	}
	expect(t, offline("policies", "validate", "-f", good), 0, "2 policies, 3 rules, valid")
	r := offline("policies", "validate", "-f", bad)
	expect(t, r, 1, "bad.yaml:5:", `rules[0].decison: unknown field (did you mean "decision"?)`,
		"bad.yaml:4:", `$gt needs a number`, "bad.yaml:7:", `unknown decision "maybe"`, "is not valid: 4 problem(s)")
	var rep struct {
		Valid  bool
		Errors []struct{ Line int }
	}
	if err := json.Unmarshal([]byte(offline("policies", "validate", "-f", bad, "--json").stdout), &rep); err != nil || rep.Valid || len(rep.Errors) != 4 || rep.Errors[0].Line == 0 {
		t.Errorf("validate --json = %+v, %v", rep, err)
	}
	expect(t, offline("policies", "validate"), 2, "-f FILE is required")

	// apply: create, then nothing to do, then update after an edit.
	expect(t, e.run(e.admin, "policies", "apply", "-f", bad), 1, "nothing was applied")
	expect(t, e.run(e.admin, "policies", "apply", "-f", good, "--dry-run"), 0, `would be created "deploy-guard"`)
	expect(t, e.run(e.admin, "policies", "apply", "-f", good), 0, `created "deploy-guard" (pol_`, `created "two-person"`)
	expect(t, e.run(e.admin, "policies", "apply", "-f", good), 0, `unchanged "deploy-guard"`, `unchanged "two-person"`)
	expect(t, e.run(e.admin, "policies", "get", "two-person"), 0, "2 approvals", "after 10m escalate to email:lead@example.com")

	// A quorum: the first approval is a vote, the second decides.
	id := strings.TrimSpace(e.run(e.agent, "request", "db.drop", "-q").stdout)
	expect(t, e.run(e.approver, "approve", id), 0, "Approval recorded for "+id, "1 of 2, waiting for 1 more")
	expect(t, e.run(e.agent, "status", id), 0, "approvals  1 of 2")
	expect(t, e.run(e.admin, "approve", id), 0, "Approved "+id)
	expect(t, e.run(e.agent, "wait", id), 0, "approved")
	data, _ := os.ReadFile(good)
	write(good, strings.Replace(string(data), "priority: 10", "priority: 11", 1))
	var applied struct {
		Results []struct{ Action, ID, Name string }
	}
	if err := json.Unmarshal([]byte(e.run(e.admin, "policies", "apply", "-f", good, "--json").stdout), &applied); err != nil ||
		len(applied.Results) != 2 || applied.Results[0].Action != "updated" || applied.Results[1].Action != "unchanged" {
		t.Fatalf("apply --json = %+v, %v", applied, err)
	}
	p, err := e.sdk(e.admin).GetPolicy(t.Context(), applied.Results[0].ID)
	if err != nil || p.Priority != 11 || len(p.Rules) != 2 || !p.Rules[0].RequireReason {
		t.Errorf("stored policy = %+v, %v", p, err)
	}
	expect(t, e.run(e.admin, "policies", "get", "deploy-guard"), 0, "rule 0: match", "route_to_human", "timeout 30m")
	expect(t, e.run(e.admin, "policies", "list"), 0, "deploy-guard", "cli-test")
	expect(t, e.run(e.admin, "policies", "dry-run", "read_file"), 0, "auto_approve", `policy "deploy-guard"`, "rule 1")
	expect(t, e.run(e.admin, "policies", "dry-run", "deploy", "--params", `{"env":"production"}`, "-q"), 0, "route_to_human")
}

func TestCLIAudit(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, &testserver.Options{Configure: func(c *config.Config) { c.AuditSealInterval = 20 * time.Millisecond }})
	id := strings.TrimSpace(e.run(e.agent, "request", "cli.audit", "-q").stdout)
	expect(t, e.run(e.approver, "deny", id, "--reason", "no"), 0)
	expect(t, e.run(e.agent, "audit", "--request", id), 0, "created", "denied", "alice")
	// Wait until the background sealer has chained every event.
	deadline := time.Now().Add(15 * time.Second)
	for {
		rep, err := e.sdk(e.agent).VerifyAudit(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Unsealed == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unsealed events remain: %+v", rep)
		}
		time.Sleep(20 * time.Millisecond)
	}
	expect(t, e.run(e.agent, "audit", "verify"), 0, "audit chain intact")
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	expect(t, e.run(e.agent, "audit", "export", "-o", file), 1, "this key lacks the scope: admin")
	expect(t, e.run(e.admin, "audit", "export", "-o", file), 0, "Exported")
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v, %v", fi, err)
	}
	expect(t, e.run(e.agent, "audit", "verify", "-f", file), 0, "chain intact")

	lines := strings.SplitAfter(strings.TrimSpace(mustRead(t, file)), "\n")
	if len(lines) < 3 {
		t.Fatalf("export has %d lines", len(lines))
	}
	tampered := filepath.Join(t.TempDir(), "tampered.jsonl")
	// Modified: change who acted in the second event.
	var ev map[string]any
	_ = json.Unmarshal([]byte(lines[1]), &ev)
	ev["actor"] = "mallory"
	b, _ := json.Marshal(ev)
	mod := slices.Clone(lines)
	mod[1] = string(b) + "\n"
	writeLines(t, tampered, mod)
	expect(t, e.run(e.agent, "audit", "verify", "-f", tampered), 1, "tampered.jsonl:2: audit chain broken at seq 2", "content does not match its hash (modified)")
	// Deleted: drop the second event.
	writeLines(t, tampered, append([]string{lines[0]}, lines[2:]...))
	expect(t, e.run(e.agent, "audit", "verify", "-f", tampered), 1, "audit chain broken at seq 2", "missing")
	var rep map[string]any
	if err := json.Unmarshal([]byte(e.run(e.agent, "audit", "verify", "-f", tampered, "--json").stdout), &rep); err != nil || rep["ok"] != false {
		t.Errorf("verify -f --json = %v, %v", rep, err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCLIKeys(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	key := strings.TrimSpace(e.run(e.admin, "keys", "create", "--name", "ci", "--scope", "request:create,request:read", "-q").stdout)
	if !keyRE.MatchString(key) {
		t.Fatalf("keys create -q printed %q", key)
	}
	expect(t, e.run(key, "request", "cli.ok.key"), 0, "approved")
	r := e.run(e.admin, "keys", "list")
	expect(t, r, 0, "ci", "request:create,request:read", "active")
	if strings.Contains(r.stdout, key) {
		t.Error("keys list shows a secret")
	}
	me, err := e.sdk(key).Me(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	expect(t, e.run(e.admin, "keys", "revoke", me.ID), 0, "Revoked "+me.ID)
	expect(t, e.run(key, "list"), 1, "API key rejected (401)")
	if strings.Contains(e.run(e.admin, "keys", "list").stdout, me.ID) {
		t.Error("keys list shows a revoked key without --all")
	}
	expect(t, e.run(e.admin, "keys", "list", "--all"), 0, me.ID, "revoked")
	expect(t, e.run(e.admin, "keys", "create", "--name", "x"), 2, "--scope is required")
	expect(t, e.run(e.admin, "keys", "create", "--name", "x", "--scope", "root"), 2, `unknown scope "root"`)
	expect(t, e.run(e.admin, "keys", "revoke", "key_nope"), 1, "key key_nope not found")
}

func TestCLITail(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	tail := e.start(e.agent, nil, "tail", "--json", "--action", "cli.tail")
	text := e.start(e.agent, nil, "tail", "--action", "cli.tail")
	time.Sleep(300 * time.Millisecond) // let both streams connect
	expect(t, e.run(e.agent, "request", "cli.other"), 0)
	id := strings.TrimSpace(e.run(e.agent, "request", "cli.tail", "-q").stdout)
	expect(t, e.run(e.approver, "approve", id, "--reason", "fine"), 0)

	sc := bufio.NewScanner(pipeOf(t, tail))
	var types []string
	for len(types) < 2 && sc.Scan() {
		var ev struct {
			ID      string
			Type    string
			Request struct{ ID, Action, Status string }
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("tail --json line %q: %v", sc.Text(), err)
		}
		if ev.Request.Action != "cli.tail" || ev.Request.ID != id || ev.ID == "" {
			t.Errorf("unfiltered or wrong event: %s", sc.Text())
		}
		types = append(types, ev.Type)
	}
	if !slices.Equal(types, []string{"request.created", "request.decided"}) {
		t.Errorf("tail --json events %v", types)
	}
	for !strings.Contains(text.out.String(), "decided") {
		select {
		case <-text.done:
			t.Fatalf("tail ended: %s", text.errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	out := text.out.String()
	if !strings.Contains(out, "created") || !strings.Contains(out, `✔ approved by alice: "fine"`) || strings.Contains(out, "cli.other") {
		t.Errorf("tail output:\n%s", out)
	}
	// Ctrl-C ends tail cleanly.
	_ = text.cmd.Process.Signal(os.Interrupt)
	expect(t, text.wait(t), 0)
}

// pipeOf returns a reader of what the running CLI writes to stdout.
func pipeOf(t *testing.T, r *running) io.Reader {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		sent := 0
		for {
			s := r.out.String()
			if len(s) > sent {
				_, _ = pw.Write([]byte(s[sent:]))
				sent = len(s)
			}
			select {
			case <-r.done:
				pw.Close()
				return
			case <-time.After(10 * time.Millisecond):
			case <-t.Context().Done():
				pw.Close()
				return
			}
		}
	}()
	return pr
}

func TestCLIDemo(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	demo := e.start(e.admin, nil, "demo")
	idRE := regexp.MustCompile(`agentgate approve (req_\S+) --reason`)
	var id string
	deadline := time.Now().Add(15 * time.Second)
	for id == "" {
		if m := idRE.FindStringSubmatch(demo.out.String()); m != nil {
			id = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the demo did not reach step 3:\n%s\n%s", demo.out.String(), demo.errb.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	expect(t, e.run(e.admin, "approve", id, "--reason", "ship it"), 0)
	expect(t, demo.wait(t), 0, `approved by policy "agentgate-demo" (rule 0)`, `denied by policy "agentgate-demo" (rule 1)`,
		e.srv.URL+"/requests/"+id, `approved by test-admin: "ship it"`, "the agent deploys", "Done.")

	// Again: the same policy is updated, and no demo key is left active.
	expect(t, e.run(e.admin, "demo", "--no-wait"), 0, `policy "agentgate-demo"`, "updated", "stays pending")
	keys, err := e.sdk(e.admin).ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == demoKeyName && k.Active {
			t.Errorf("demo key %s is still active", k.ID)
		}
	}
	pg, err := e.sdk(e.admin).ListPolicies(t.Context(), client.PageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pg.Policies {
		if p.Name == demoPolicyName {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d demo policies after two runs, want 1", n)
	}
	expect(t, e.run(e.agent, "demo"), 1, "the demo needs an admin key")
}

func TestCLICompletion(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := e.run("", "completion", sh)
		expect(t, r, 0)
		if !strings.Contains(r.stdout, "agentgate") {
			t.Errorf("completion %s: no script", sh)
		}
	}
	if _, err := exec.LookPath("bash"); err == nil {
		script := filepath.Join(t.TempDir(), "c.bash")
		if err := os.WriteFile(script, []byte(e.run("", "completion", "bash").stdout), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
			t.Errorf("the bash completion script does not parse: %v\n%s", err, out)
		}
	}
	// Subcommands, flag values and pending request ids complete.
	expect(t, e.run("", "__complete", "pol"), 0, "policies")
	expect(t, e.run("", "__complete", "list", "--status", ""), 0, "pending", "approved")
	id := strings.TrimSpace(e.run(e.agent, "request", "cli.complete", "-q").stdout)
	expect(t, e.run(e.approver, "__complete", "approve", ""), 0, id+"\tcli.complete (pending")
}

// The webhook commands follow the API contract of /api/webhooks; they are
// checked against a scripted server speaking it.
func TestCLIWebhooks(t *testing.T) {
	t.Parallel()
	fake := newWebhookFake(t)
	run := func(args ...string) result {
		cmd := exec.Command(binPath, args...)
		cmd.Env = append(baseEnv(t.TempDir()), "AGENTGATE_URL="+fake.URL, "AGENTGATE_API_KEY=agk_test")
		return runCmd(t, cmd, "")
	}
	expect(t, run("webhooks", "list"), 0, "No webhooks.")
	r := run("webhooks", "create", "--url", "https://hooks.example.com/x", "--event", "request.decided,request.expired")
	expect(t, r, 0, "Created webhook wh_1", "whsec_generated", "agentgate webhooks test wh_1")
	var hooks []map[string]any
	if err := json.Unmarshal([]byte(run("webhooks", "list", "--json").stdout), &hooks); err != nil || len(hooks) != 1 ||
		fmt.Sprint(hooks[0]["events"]) != "[request.decided request.expired]" {
		t.Errorf("webhooks list --json = %v, %v", hooks, err)
	}
	expect(t, run("webhooks", "list"), 0, "wh_1", "https://hooks.example.com/x", "request.decided,request.expired", "yes")
	expect(t, run("webhooks", "test", "wh_1"), 0, "delivered: HTTP 200")
	expect(t, run("webhooks", "test", "wh_9"), 1, "webhook wh_9 not found")
	expect(t, run("webhooks", "delete", "wh_1"), 0, "Deleted wh_1")
	expect(t, run("webhooks", "create"), 2, "--url is required")
}

// newWebhookFake serves the webhook routes of the REST API from memory.
func newWebhookFake(t *testing.T) *httpFake {
	f := &httpFake{hooks: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/webhooks", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in["url"] == nil || in["events"] == nil {
			http.Error(w, `{"error":"url and events are required"}`, 400)
			return
		}
		h := map[string]any{"id": "wh_1", "url": in["url"], "events": in["events"], "enabled": true, "secretEncrypted": false,
			"createdBy": "admin", "createdAt": "2026-01-02T03:04:05.678Z", "updatedAt": "2026-01-02T03:04:05.678Z"}
		f.mu.Lock()
		f.hooks["wh_1"] = h
		f.mu.Unlock()
		out := map[string]any{"secret": "whsec_generated", "message": "Save the secret now"}
		for k, v := range h {
			out[k] = v
		}
		writeJSONTest(w, 201, out)
	})
	mux.HandleFunc("GET /api/webhooks", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		list := []any{}
		for _, h := range f.hooks {
			list = append(list, h)
		}
		writeJSONTest(w, 200, map[string]any{"webhooks": list})
	})
	mux.HandleFunc("DELETE /api/webhooks/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.hooks[r.PathValue("id")] == nil {
			writeJSONTest(w, 404, map[string]any{"error": "Webhook not found"})
			return
		}
		delete(f.hooks, r.PathValue("id"))
		writeJSONTest(w, 200, map[string]any{"success": true, "id": r.PathValue("id")})
	})
	mux.HandleFunc("POST /api/webhooks/{id}/test", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.hooks[r.PathValue("id")] == nil {
			writeJSONTest(w, 404, map[string]any{"error": "Webhook not found"})
			return
		}
		writeJSONTest(w, 200, map[string]any{"success": true, "statusCode": 200, "durationMs": 12, "error": nil, "responseBody": "ok",
			"delivery": map[string]any{"id": "dlv_1", "webhookId": "wh_1", "event": "test", "status": "success", "attempts": 1}})
	})
	f.srv = httptestServer(t, mux)
	f.URL = f.srv.URL
	return f
}

func writeJSONTest(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Both command trees' help works; every client command has examples.
func TestCLIHelpHasExamples(t *testing.T) {
	t.Parallel()
	root := newRootCmd()
	server := map[string]bool{"server": true, "migrate": true, "bootstrap": true, "backup": true, "health": true, "version": true,
		"help": true, "completion": true}
	for _, c := range allCommands(root) {
		if server[strings.Fields(c.CommandPath() + " x")[1]] || c == root {
			continue
		}
		if c.HasSubCommands() && c.Runnable() && c.Name() != "audit" {
			continue // a group: its subcommands have the examples
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no examples in its help", c.CommandPath())
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binPath, "run", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Exit codes:") || !strings.Contains(string(out), "agentgate run --action deploy") {
		t.Errorf("run --help:\n%s", out)
	}
}

// The webhook commands against the real webhook API: the secret the CLI
// prints verifies the signed test delivery.
func TestCLIWebhooksServer(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, &testserver.Options{Configure: func(c *config.Config) { c.WebhookAllowPrivate = true }})
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	recv := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
		_, _ = w.Write([]byte("thanks"))
	}))
	r := e.run(e.admin, "webhooks", "create", "--url", recv.URL+"/hook", "--event", "request.decided", "--json")
	expect(t, r, 0)
	var created struct{ ID, Secret string }
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.ID == "" || created.Secret == "" {
		t.Fatalf("webhooks create --json: %+v, %v\n%s", created, err, r)
	}
	expect(t, e.run(e.admin, "webhooks", "list"), 0, created.ID, recv.URL+"/hook", "request.decided", "yes")
	expect(t, e.run(e.admin, "webhooks", "test", created.ID), 0, "delivered: HTTP 200", "response: thanks")
	select {
	case req := <-got:
		if err := client.VerifyWebhook(created.Secret, req.Header.Get(client.SignatureHeader), <-bodies); err != nil {
			t.Errorf("the test delivery does not verify with the printed secret: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no test delivery arrived")
	}
	expect(t, e.run(e.agent, "webhooks", "list"), 1, "this key lacks the scope: webhook:manage")
	expect(t, e.run(e.admin, "webhooks", "delete", created.ID), 0, "Deleted "+created.ID)
	expect(t, e.run(e.admin, "webhooks", "test", created.ID), 1, "webhook "+created.ID+" not found")
}

func TestCLIEditGrantsGroups(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t, nil)
	id := strings.TrimSpace(e.run(e.agent, "request", "cli.refund", "--params", `{"amount":9}`, "-q").stdout)
	expect(t, e.run(e.admin, "approve", id, "--params", `{"amount":5}`), 0, "Approved "+id)
	expect(t, e.run(e.agent, "status", id), 0, `"amount":5`)
	expect(t, e.run(e.admin, "approve", id, "other", "--params", `{}`), 2, "--params edits one request")
	expect(t, e.run(e.admin, "approve", "x", "--grant-uses", "2"), 2, "go with --grant")

	seed := strings.TrimSpace(e.run(e.agent, "request", "cli.rotate", "-q").stdout)
	expect(t, e.run(e.admin, "approve", seed, "--grant", "1h", "--grant-uses", "1"), 0, "Approved")
	expect(t, e.run(e.agent, "request", "cli.rotate"), 0, "approved")
	r := e.run(e.admin, "grants", "list")
	expect(t, r, 0, "cli.rotate", "1/1", "used up or expired")
	gid := strings.TrimSpace(e.run(e.admin, "grants", "list", "-q").stdout)
	expect(t, e.run(e.admin, "grants", "revoke", gid), 0, "Revoked grant "+gid)

	expect(t, e.run(e.admin, "groups", "set", "oncall", "alice", "slack:U1"), 0, "Group oncall: alice, slack:U1")
	expect(t, e.run(e.admin, "groups", "list"), 0, "oncall", "alice, slack:U1", "api")
	expect(t, e.run(e.admin, "groups", "delete", "oncall"), 0, "Deleted group oncall")
	expect(t, e.run(e.admin, "groups", "set", "Bad Name", "x"), 1, "group name")
}
