package main

// This file holds what the client commands (everything but server,
// migrate, bootstrap, backup, health and version) share: global flags,
// settings resolution, the SDK client, error messages and exit codes.
// Each command group lives in its own cli_*.go file.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/app"
)

// Exit codes of the client commands (documented in exitCodesHelp, the
// README and docs/cli.md).
const (
	codeOK          = 0   // success; for decisions: approved
	codeError       = 1   // any error: unreachable server, rejected key, bad answer
	codeUsage       = 2   // bad command line: unknown command or flag, bad argument
	codeDenied      = 3   // the request was denied
	codeExpired     = 4   // the request expired, or --timeout ran out first
	codeInterrupted = 130 // Ctrl-C while waiting (128 + SIGINT)
)

const exitCodesHelp = `Exit codes:
  0    success; for a decision: approved
  1    error (server unreachable, key rejected, not found, ...)
  2    usage error (unknown command or flag, bad argument)
  3    denied
  4    expired, or --timeout ran out before a decision
  130  interrupted (Ctrl-C) while waiting
  run: once approved, the command's own exit status`

// defaultURL is the server the CLI calls when nothing else says.
const defaultURL = "http://localhost:3000"

// cliApp is the state the client commands share: global flags, the
// environment, and the SDK client built from them. newRootCmd builds one
// per command tree (no package-level state).
type cliApp struct {
	getenv func(string) string
	now    func() time.Time

	// Global flags.
	flagURL    string
	flagAPIKey string
	jsonOut    bool
	quiet      bool
	noColor    bool

	// Built on first use.
	settings *settings
	rec      *recorder
	client   *client.Client
	warned   bool // the config file permission warning was shown
}

func newCLIApp() *cliApp {
	return &cliApp{getenv: os.Getenv, now: time.Now}
}

// addClientCommands adds the client commands and their global flags to
// root, and makes usage errors exit with status 2.
func addClientCommands(root *cobra.Command) {
	a := newCLIApp()
	pf := root.PersistentFlags()
	pf.StringVar(&a.flagURL, "url", "", "AgentGate server URL (env AGENTGATE_URL; default "+defaultURL+")")
	pf.StringVar(&a.flagAPIKey, "api-key", "", "API key (env AGENTGATE_API_KEY); prefer the variable: flags show up in ps")
	pf.BoolVar(&a.jsonOut, "json", false, "print the server's JSON objects (lists as a JSON array, streams as JSON Lines)")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "print ids only")
	pf.BoolVar(&a.noColor, "no-color", false, "no colours (also NO_COLOR=1 or TERM=dumb)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if a.jsonOut && a.quiet {
			return usageErrorf(cmd, "--json and --quiet cannot be used together")
		}
		return nil
	}
	root.SuggestionsMinimumDistance = 2

	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf(cmd, "%v", err)
	})
	// An unknown command is a usage error (exit 2), with cobra's
	// suggestions; the root alone prints its help.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q", args[0])
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usageErrorf(cmd, "%s", msg)
	}
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	root.Long += "\n\n" + exitCodesHelp

	root.AddGroup(&cobra.Group{ID: "requests", Title: "Requests:"},
		&cobra.Group{ID: "admin", Title: "Administration:"},
		&cobra.Group{ID: "server", Title: "Server:"})
	for _, c := range root.Commands() {
		c.GroupID = "server"
	}
	for _, c := range []*cobra.Command{a.requestCmd(), a.statusCmd(), a.waitCmd(), a.listCmd(),
		a.decideCmd("approve"), a.decideCmd("deny"), a.tailCmd(), a.runCmd(), a.demoCmd()} {
		c.GroupID = "requests"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.configCmd(), a.keysCmd(), a.policiesCmd(), a.groupsCmd(), a.grantsCmd(), a.webhooksCmd(), a.auditCmd()} {
		c.GroupID = "admin"
		root.AddCommand(c)
	}
	root.SetHelpCommandGroupID("admin")
	root.SetCompletionCommandGroupID("admin")
}

// usageErrorf is an exitError with status 2 that points at the help.
func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &exitError{code: codeUsage, msg: fmt.Sprintf(format, args...) +
		fmt.Sprintf("\nRun '%s --help' for usage.", cmd.CommandPath())}
}

// usageArgs wraps a cobra argument check so that its failure exits 2.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageErrorf(cmd, "%v", err)
		}
		return nil
	}
}

// groupCmd is a command that only holds subcommands: alone it prints its
// help; with an unknown subcommand it is a usage error.
func groupCmd(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return usageErrorf(cmd, "%s", msg)
		},
		RunE:                       func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		SuggestionsMinimumDistance: 2,
	}
	c.AddCommand(subs...)
	return c
}

// settings are the resolved URL and API key, with where each came from.
type settings struct {
	URL, URLSource       string
	APIKey, APIKeySource string
	ConfigPath           string
	File                 *configFile
}

// resolve applies the precedence: flags, then the environment, then the
// config file, then the default.
func (a *cliApp) resolve(cmd *cobra.Command) (*settings, error) {
	if a.settings != nil {
		return a.settings, nil
	}
	path, err := a.configPath()
	if err != nil {
		return nil, err
	}
	f, err := loadConfigFile(path)
	if err != nil {
		return nil, &exitError{code: codeError, msg: err.Error()}
	}
	if !a.warned {
		a.warned = true
		if w := f.permissionWarning(); w != "" {
			fmt.Fprintln(cmd.ErrOrStderr(), "agentgate: warning:", w)
		}
	}
	s := &settings{ConfigPath: path, File: f}
	fileURL, _ := f.get("url")
	fileKey, _ := f.get("apiKey")
	s.URL, s.URLSource = pick(
		source{a.flagURL, "--url flag"},
		source{a.getenv("AGENTGATE_URL"), "AGENTGATE_URL"},
		source{fileURL, "config file " + path},
		source{defaultURL, "default"})
	s.APIKey, s.APIKeySource = pick(
		source{a.flagAPIKey, "--api-key flag"},
		source{a.getenv("AGENTGATE_API_KEY"), "AGENTGATE_API_KEY"},
		source{fileKey, "config file " + path},
		source{"", "not set"})
	s.URL = strings.TrimSpace(s.URL)
	s.APIKey = strings.TrimSpace(s.APIKey)
	a.settings = s
	return s, nil
}

type source struct{ value, name string }

// pick returns the first non-empty value and its source's name.
func pick(ss ...source) (string, string) {
	for _, s := range ss {
		if strings.TrimSpace(s.value) != "" {
			return s.value, s.name
		}
	}
	last := ss[len(ss)-1]
	return last.value, last.name
}

// api returns the SDK client, built on first use. Without an API key it
// fails with a message that says how to set one.
func (a *cliApp) api(cmd *cobra.Command) (*client.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	s, err := a.resolve(cmd)
	if err != nil {
		return nil, err
	}
	if s.APIKey == "" {
		return nil, &exitError{code: codeError, msg: "no API key: set AGENTGATE_API_KEY or run `agentgate config set apiKey agk_…`"}
	}
	a.rec = &recorder{base: http.DefaultTransport.(*http.Transport).Clone()}
	c, err := client.New(s.URL, s.APIKey,
		client.WithHTTPClient(&http.Client{Transport: a.rec}),
		client.WithUserAgent("agentgate-cli/"+app.Version),
		// A person is waiting at the terminal: give up on an unreachable
		// server within about a second, not after the SDK's ten.
		client.WithRetry(3, 200*time.Millisecond, 2*time.Second),
	)
	if err != nil {
		return nil, &exitError{code: codeError, msg: fmt.Sprintf("%v (from %s)", strings.TrimPrefix(err.Error(), "agentgate: "), s.URLSource)}
	}
	a.client = c
	return c, nil
}

// baseURL is the server URL as the client uses it (no trailing slash).
func (a *cliApp) baseURL() string {
	if a.client != nil {
		return a.client.BaseURL()
	}
	if a.settings != nil {
		return strings.TrimRight(a.settings.URL, "/")
	}
	return defaultURL
}

// scopeRE reads the server's 403 message for a missing scope.
var scopeRE = regexp.MustCompile(`lacks the "([^"]+)" scope`)

// explain turns an SDK error into an exitError whose message says what to
// do. Callers handle the cases where they know more (a request id).
func (a *cliApp) explain(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*exitError](err); ok {
		return err
	}
	keySource := "AGENTGATE_API_KEY"
	if a.settings != nil && a.settings.APIKeySource != "" {
		keySource = a.settings.APIKeySource
	}
	apiErr, _ := errors.AsType[*client.APIError](err)
	msg := ""
	switch {
	case errors.Is(err, context.Canceled):
		return &exitError{code: codeInterrupted, msg: "interrupted"}
	case errors.Is(err, context.DeadlineExceeded):
		return &exitError{code: codeExpired, msg: "timed out"}
	case errors.Is(err, client.ErrUnreachable):
		msg = fmt.Sprintf("cannot reach AgentGate at %s (%s): is the server running?", a.baseURL(), netCause(err))
		if a.settings != nil && a.settings.URLSource != "default" {
			msg += " The URL comes from " + a.settings.URLSource + "."
		} else {
			msg += " Start one with `agentgate server`, or point the CLI elsewhere with AGENTGATE_URL or `agentgate config set url …`."
		}
	case errors.Is(err, client.ErrUnauthorized):
		msg = fmt.Sprintf("API key rejected (401): check AGENTGATE_API_KEY or run `agentgate config set apiKey …` (the key in use comes from %s)", keySource)
	case errors.Is(err, client.ErrForbidden) && apiErr != nil:
		if m := scopeRE.FindStringSubmatch(apiErr.Message); m != nil {
			msg = fmt.Sprintf("this key lacks the scope: %s (an admin can create a key with it: agentgate keys create --name NAME --scope %s)", m[1], m[1])
		} else {
			msg = "not allowed (403): " + apiErr.Message
		}
	case errors.Is(err, client.ErrRateLimited) && apiErr != nil:
		msg = "rate limited (429): " + apiErr.Message
		if apiErr.RetryAfter > 0 {
			msg += fmt.Sprintf("; try again in %s", apiErr.RetryAfter.Round(time.Second))
		}
	case errors.Is(err, client.ErrUnavailable) && apiErr != nil:
		msg = fmt.Sprintf("AgentGate at %s is unavailable (HTTP %d): %s", a.baseURL(), apiErr.StatusCode, apiErr.Message)
	case apiErr != nil && apiErr.StatusCode == http.StatusUnprocessableEntity && strings.Contains(apiErr.Message, "Idempotency-Key"):
		msg = apiErr.Message + ": the action, params, context, urgency and expiry must be the same on every try " +
			"(--expires-in and --timeout count from now; use --expires-at), or use a new key"
	case apiErr != nil:
		msg = fmt.Sprintf("%s (HTTP %d)", apiErr.Message, apiErr.StatusCode)
		if apiErr.StatusCode >= 500 && apiErr.RequestID != "" {
			msg += "; the server logged it under request id " + apiErr.RequestID
		}
	default:
		msg = strings.TrimPrefix(err.Error(), "agentgate: ")
	}
	return &exitError{code: codeError, msg: msg}
}

// netCause returns the innermost network error, e.g. "connection refused".
func netCause(err error) string {
	if dns, ok := errors.AsType[*net.DNSError](err); ok {
		return "cannot resolve " + dns.Name
	}
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Err != nil {
		s := op.Err.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 {
			s = s[i+2:]
		}
		return s
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
		return "no answer in time"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// recorder keeps the bodies of the server's JSON answers, so that --json
// prints exactly what the server sent rather than the SDK's re-encoding.
type recorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil || resp.StatusCode/100 != 2 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// reset forgets the bodies recorded so far.
func (r *recorder) reset() {
	r.mu.Lock()
	r.bodies = nil
	r.mu.Unlock()
}

// last returns the body of the last JSON answer.
func (r *recorder) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) == 0 {
		return nil
	}
	return r.bodies[len(r.bodies)-1]
}

// all returns every body recorded since the last reset.
func (r *recorder) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}
