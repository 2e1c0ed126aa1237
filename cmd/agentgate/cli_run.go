package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
)

// Exit statuses of run when the command cannot be started, as shells use
// them.
const (
	codeCannotExecute = 126
	codeNotFound      = 127
)

// expiryGrace is how much longer run waits than the request lives when it
// ties the request's expiry to --timeout, so the server's own outcome
// (expired, or a rule's onTimeout) is the one reported.
const expiryGrace = 10 * time.Second

func (a *cliApp) runCmd() *cobra.Command {
	var (
		action, params, reqCtx, urgency, idemKey, expiresAt string
		timeout, expiresIn                                  time.Duration
		noFacts                                             bool
	)
	cmd := &cobra.Command{
		Use:   "run --action ACTION [flags] -- COMMAND [ARG...]",
		Short: "Run a command only once a person approves it",
		Long: `Ask for approval of ACTION and run COMMAND only if it is approved: the
human-in-the-loop step for a CI pipeline, a cron job or a script, in one
line.

While it waits, run shows a spinner on a terminal (plain lines in CI
logs). Once approved it prints who approved and why on standard error
and runs COMMAND with standard input, output and error passed through and
AGENTGATE_REQUEST_ID, AGENTGATE_DECIDED_BY and AGENTGATE_DECISION_REASON
in its environment. Its exit status becomes run's. Signals sent to run
(SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, and off a terminal SIGINT and
SIGQUIT) are passed on to COMMAND; on a terminal Ctrl-C reaches COMMAND
directly.

The request's context describes the run, for the approver: host, user,
working directory, the command line, and the CI job when there is one
(GitHub Actions, GitLab CI, CircleCI, Buildkite, Jenkins: repository,
commit, actor, run URL). Values given with --context win;
--no-run-context leaves the facts out (the command line may hold
secrets: they would be shown to approvers and kept in the audit trail).

With --timeout and no --expires-in or --expires-at, the request expires
when run stops waiting, so nobody approves a run that already gave up.
With --idempotency-key a rerun of the same job finds the request it made
instead of asking again (approved already: the command runs at once); the
request must then be the same, so use --expires-at rather than a relative
expiry.

` + exitCodesHelp + `
  126, 127  COMMAND cannot be executed / was not found (nothing was asked)`,
		Example: `  agentgate run --action deploy --params '{"env":"prod"}' -- ./deploy.sh prod
  agentgate run --action db.migrate --urgency high --timeout 30m -- make migrate
  # cron: nightly cleanup, only if someone says yes within an hour
  0 3 * * * agentgate run --action cleanup --timeout 1h -- /usr/local/bin/cleanup.sh`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if a.jsonOut {
				return usageErrorf(cmd, "--json does not apply to run: its standard output is the command's")
			}
			if strings.TrimSpace(action) == "" {
				return usageErrorf(cmd, "--action is required: the name approvers and policies see, e.g. --action deploy")
			}
			if timeout < 0 {
				return usageErrorf(cmd, "--timeout must not be negative")
			}
			in := client.RequestInput{Action: action, IdempotencyKey: idemKey}
			p, err := readObject(cmd, "params", params)
			if err != nil {
				return err
			}
			if p != nil {
				in.Params = p
			}
			if in.Urgency, err = parseUrgency(cmd, urgency); err != nil {
				return err
			}
			userCtx, err := readObject(cmd, "context", reqCtx)
			if err != nil {
				return err
			}
			facts := map[string]any{}
			if !noFacts {
				facts = runFacts(a.getenv, argv)
			}
			if userCtx != nil {
				var m map[string]any
				_ = json.Unmarshal(userCtx, &m)
				maps.Copy(facts, m)
			}
			if len(facts) > 0 {
				in.Context = facts
			}
			// Fail before asking anyone if the command cannot run.
			path, err := exec.LookPath(argv[0])
			if err != nil {
				code, why := codeNotFound, "command not found"
				switch {
				case errors.Is(err, fs.ErrPermission):
					code, why = codeCannotExecute, "permission denied"
				case !errors.Is(err, exec.ErrNotFound):
					why = err.Error()
				}
				return &exitError{code: code, msg: fmt.Sprintf("cannot run %s: %s; nothing was asked", argv[0], why)}
			}
			if in.ExpiresAt, err = a.expiry(cmd, expiresIn, expiresAt); err != nil {
				return err
			}
			waitFor := timeout
			if in.ExpiresAt.IsZero() && timeout > 0 && idemKey == "" {
				// The request ends when run stops waiting. (Not with an
				// idempotency key: a retry must send the same expiry.)
				in.ExpiresAt = a.now().Add(timeout)
				waitFor = timeout + expiryGrace
			}

			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			errw := cmd.ErrOrStderr()
			pe := palette{on: a.colorOn(errw)}
			say := func(format string, args ...any) {
				if !a.quiet {
					fmt.Fprintf(errw, format, args...)
				}
			}
			r, err := c.Request(cmd.Context(), in)
			if err != nil {
				return a.explain(err)
			}
			if !r.Status.Final() {
				say("Approval needed to run %s: %s (%s)\n", pe.bold(shellJoin(argv)), pe.bold(action), r.ID)
				say("  approve:    agentgate approve %s\n", r.ID)
				say("  dashboard:  %s/requests/%s\n", a.baseURL(), r.ID)
				if !a.spinnerOn(errw) {
					say("Waiting for a decision...\n")
				}
				w, err := a.waitDecision(cmd, c, r, waitFor)
				if err != nil {
					return err
				}
				r = w
			}
			say("%s\n", outcomeLine(r, pe))
			if r.Status != client.StatusApproved {
				if err := exitFor(r); err != nil {
					return err
				}
				return &exitError{code: codeError, msg: "not approved: " + string(r.Status)}
			}
			if len(r.ApprovedParams) > 0 {
				say("%s the approver edited the params: %s (in AGENTGATE_PARAMS)\n", pe.yellow("!"), compactJSON(r.ApprovedParams))
			}
			env := append(os.Environ(),
				"AGENTGATE_REQUEST_ID="+r.ID,
				"AGENTGATE_DECIDED_BY="+decider(r),
				"AGENTGATE_DECISION_REASON="+r.DecisionReason,
				"AGENTGATE_PARAMS="+string(nonEmpty(r.ActionParams())))
			code, err := runChild(path, argv, env, cmd.InOrStdin(), cmd.OutOrStdout(), errw, a.interactive(cmd))
			if err != nil {
				return &exitError{code: codeCannotExecute, msg: fmt.Sprintf("cannot run %s: %v", argv[0], err)}
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	// Flags after COMMAND belong to COMMAND, even without "--".
	f.SetInterspersed(false)
	f.StringVarP(&action, "action", "a", "", "the action to ask approval for (required), e.g. deploy")
	f.StringVarP(&params, "params", "p", "", "the action's arguments: a JSON object, @FILE or -")
	f.StringVarP(&reqCtx, "context", "c", "", "more context for approvers: a JSON object or @FILE (merged over the run's facts)")
	f.StringVarP(&urgency, "urgency", "u", "", "low, normal, high or critical")
	f.DurationVar(&timeout, "timeout", 0, "give up waiting after this long (exit 4); default: until decided or expired")
	f.DurationVar(&expiresIn, "expires-in", 0, "end the request if nobody decides within this time (default: --timeout, else the server's)")
	f.StringVar(&expiresAt, "expires-at", "", "end the request at this time (RFC 3339)")
	f.StringVar(&idemKey, "idempotency-key", "", "reuse the request made with this key and input (e.g. a CI run id) instead of asking again")
	f.BoolVar(&noFacts, "no-run-context", false, "do not add host, user, directory, command line and CI facts to the context")
	_ = cmd.RegisterFlagCompletionFunc("urgency", cobra.FixedCompletions([]string{"low", "normal", "high", "critical"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// interactive reports whether run is attached to a terminal, where the
// terminal itself sends Ctrl-C and Ctrl-\ to the command.
func (a *cliApp) interactive(cmd *cobra.Command) bool {
	return isTerminal(cmd.InOrStdin()) || isTerminal(cmd.OutOrStdout()) || isTerminal(cmd.ErrOrStderr())
}

// runChild runs the approved command and returns its exit status (128+N
// when signal N ended it), passing signals on while it runs.
func runChild(path string, argv, env []string, stdin io.Reader, stdout, stderr io.Writer, interactive bool) (int, error) {
	child := exec.Command(path, argv[1:]...)
	child.Args[0] = argv[0]
	child.Env = env
	child.Stdin, child.Stdout, child.Stderr = stdin, stdout, stderr
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals()...)
	defer signal.Stop(sigs)
	if err := child.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	for {
		select {
		case s := <-sigs:
			if interactive && terminalSignal(s) {
				continue // the terminal delivered it to the command as well
			}
			_ = child.Process.Signal(s)
		case err := <-done:
			if err != nil {
				if _, ok := errors.AsType[*exec.ExitError](err); !ok {
					return 0, err
				}
			}
			return exitStatus(child.ProcessState), nil
		}
	}
}

func nonEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("{}")
	}
	return raw
}

// runFacts describes this run for the approver.
func runFacts(getenv func(string) string, argv []string) map[string]any {
	m := map[string]any{
		"via":         "agentgate run",
		"command":     argv,
		"commandLine": shellJoin(argv),
	}
	if h, err := os.Hostname(); err == nil {
		m["host"] = h
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		m["user"] = u.Username
	} else if v := getenv("USER"); v != "" {
		m["user"] = v
	}
	if wd, err := os.Getwd(); err == nil {
		m["cwd"] = wd
	}
	if ci := ciFacts(getenv); len(ci) > 0 {
		m["ci"] = ci
	}
	return m
}

// ciProviders maps the CI systems' environment variables to context
// fields. The first provider whose marker variable is set wins.
var ciProviders = []struct {
	name, marker string
	fields       [][2]string // context field, environment variable
}{
	{"github-actions", "GITHUB_ACTIONS", [][2]string{
		{"repository", "GITHUB_REPOSITORY"}, {"runId", "GITHUB_RUN_ID"}, {"runAttempt", "GITHUB_RUN_ATTEMPT"},
		{"sha", "GITHUB_SHA"}, {"ref", "GITHUB_REF"}, {"actor", "GITHUB_ACTOR"}, {"workflow", "GITHUB_WORKFLOW"},
		{"job", "GITHUB_JOB"}, {"event", "GITHUB_EVENT_NAME"}}},
	{"gitlab-ci", "GITLAB_CI", [][2]string{
		{"repository", "CI_PROJECT_PATH"}, {"pipelineId", "CI_PIPELINE_ID"}, {"pipelineUrl", "CI_PIPELINE_URL"},
		{"jobId", "CI_JOB_ID"}, {"job", "CI_JOB_NAME"}, {"jobUrl", "CI_JOB_URL"}, {"sha", "CI_COMMIT_SHA"},
		{"ref", "CI_COMMIT_REF_NAME"}, {"actor", "GITLAB_USER_LOGIN"}, {"environment", "CI_ENVIRONMENT_NAME"}}},
	{"circleci", "CIRCLECI", [][2]string{
		{"repository", "CIRCLE_PROJECT_REPONAME"}, {"buildUrl", "CIRCLE_BUILD_URL"}, {"sha", "CIRCLE_SHA1"},
		{"ref", "CIRCLE_BRANCH"}, {"actor", "CIRCLE_USERNAME"}, {"job", "CIRCLE_JOB"}}},
	{"buildkite", "BUILDKITE", [][2]string{
		{"pipeline", "BUILDKITE_PIPELINE_SLUG"}, {"buildUrl", "BUILDKITE_BUILD_URL"}, {"sha", "BUILDKITE_COMMIT"},
		{"ref", "BUILDKITE_BRANCH"}, {"actor", "BUILDKITE_BUILD_CREATOR"}}},
	{"jenkins", "JENKINS_URL", [][2]string{
		{"job", "JOB_NAME"}, {"buildUrl", "BUILD_URL"}, {"sha", "GIT_COMMIT"}, {"ref", "GIT_BRANCH"}}},
	{"ci", "CI", nil},
}

// ciFacts returns the CI job's facts, or nil outside CI.
func ciFacts(getenv func(string) string) map[string]any {
	for _, p := range ciProviders {
		if getenv(p.marker) == "" || getenv(p.marker) == "false" {
			continue
		}
		m := map[string]any{"provider": p.name}
		for _, f := range p.fields {
			if v := getenv(f[1]); v != "" {
				m[f[0]] = v
			}
		}
		if p.name == "github-actions" {
			if srv, repo, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"); srv != "" && repo != "" && id != "" {
				m["runUrl"] = srv + "/" + repo + "/actions/runs/" + id
			}
		}
		return m
	}
	return nil
}

// shellJoin quotes argv the way a POSIX shell would read it back.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, s := range argv {
		if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) {
			out[i] = s
			continue
		}
		out[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
