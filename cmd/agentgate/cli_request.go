package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
)

// readObject reads a JSON object given as text, @FILE or - (stdin), for
// --params and --context. An empty value means none.
func readObject(cmd *cobra.Command, flag, value string) (json.RawMessage, error) {
	if value == "" {
		return nil, nil
	}
	var data []byte
	var where string
	switch {
	case value == "-":
		b, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, &exitError{code: codeError, msg: fmt.Sprintf("--%s -: read standard input: %v", flag, err)}
		}
		data, where = b, "standard input"
	case strings.HasPrefix(value, "@"):
		b, err := os.ReadFile(value[1:])
		if err != nil {
			return nil, usageErrorf(cmd, "--%s %s: %v", flag, value, err)
		}
		data, where = b, value[1:]
	default:
		data, where = []byte(value), "the value"
	}
	data = bytes.TrimSpace(data)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		why := "it must be a JSON object, e.g. '{\"env\":\"prod\"}'"
		if err != nil {
			why = fmt.Sprintf("%v; it must be a JSON object, e.g. '{\"env\":\"prod\"}'", err)
		}
		return nil, usageErrorf(cmd, "--%s: %s is not valid: %s", flag, where, why)
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, data)
	return buf.Bytes(), nil
}

// parseUrgency checks --urgency.
func parseUrgency(cmd *cobra.Command, s string) (client.Urgency, error) {
	switch u := client.Urgency(strings.ToLower(s)); u {
	case "", client.UrgencyLow, client.UrgencyNormal, client.UrgencyHigh, client.UrgencyCritical:
		return u, nil
	}
	return "", usageErrorf(cmd, "--urgency %q: want low, normal, high or critical", s)
}

// decider names who decided r, for people.
func decider(r *client.Request) string {
	switch r.DecidedByType {
	case client.ActorPolicy:
		name := r.PolicyDecision.PolicyName
		if name == "" {
			name = r.DecidedByID
		}
		return fmt.Sprintf("policy %q", name)
	case client.ActorSystem:
		return "the system"
	case client.ActorGrant:
		return "grant " + r.GrantID
	}
	switch {
	case r.DecidedByLabel != "" && r.DecidedBy != "" && r.DecidedByLabel != r.DecidedBy:
		return fmt.Sprintf("%s (key %s)", r.DecidedByLabel, r.DecidedBy)
	case r.DecidedBy != "":
		return r.DecidedBy
	}
	return "someone"
}

// outcomeLine is the one line that says how a request ended.
func outcomeLine(r *client.Request, p palette) string {
	reason := ""
	switch {
	case r.DecisionReason == "":
	case r.DecidedByType == client.ActorPolicy && strings.HasPrefix(r.DecisionReason, "policy \""):
		// The engine's own "policy "x" rule 2 matched: auto_deny" says
		// no more than the decider does.
		if ri := r.PolicyDecision.RuleIndex; ri != nil {
			reason = fmt.Sprintf(" (rule %d)", *ri)
		}
	default:
		reason = ": \"" + r.DecisionReason + "\""
	}
	switch r.Status {
	case client.StatusApproved:
		return p.green("✔ approved") + " by " + decider(r) + reason
	case client.StatusDenied:
		return p.red("✘ denied") + " by " + decider(r) + reason
	case client.StatusExpired:
		return p.grey("⌛ expired") + reason
	}
	return p.yellow("… pending")
}

// exitFor maps a request's final status to the exit status: approved 0,
// denied 3, expired 4 (pending 0: nothing went wrong).
func exitFor(r *client.Request) error {
	switch r.Status {
	case client.StatusDenied:
		return &exitError{code: codeDenied}
	case client.StatusExpired:
		return &exitError{code: codeExpired}
	}
	return nil
}

// explainID is explain with the request id in the not-found message.
func (a *cliApp) explainID(err error, id string) error {
	if errors.Is(err, client.ErrNotFound) {
		return &exitError{code: codeError, msg: fmt.Sprintf("request %s not found (list them with `agentgate list`)", id)}
	}
	return a.explain(err)
}

// spinnerOn reports whether to show a spinner on w.
func (a *cliApp) spinnerOn(w io.Writer) bool {
	return !a.quiet && a.getenv("TERM") != "dumb" && isTerminal(w)
}

// waitDecision waits for r's decision with a spinner, up to timeout (0:
// until it is decided or expires on the server).
func (a *cliApp) waitDecision(cmd *cobra.Command, c *client.Client, r *client.Request, timeout time.Duration) (*client.Request, error) {
	ctx := cmd.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	errw := cmd.ErrOrStderr()
	// Short, so that the line does not wrap (a wrapped line cannot be
	// redrawn in place); the id is printed above or was typed.
	msg := fmt.Sprintf("waiting for a decision (%s)", truncate(r.Action, 40))
	spin := startSpinner(errw, a.spinnerOn(errw), palette{on: a.colorOn(errw)}, msg)
	w, err := c.Wait(ctx, r.ID)
	spin.Stop()
	if err == nil {
		return w, nil
	}
	if w == nil {
		w = r
	}
	again := fmt.Sprintf("%s is still pending; wait again with `agentgate wait %s`", r.ID, r.ID)
	switch {
	case cmd.Context().Err() != nil:
		return w, &exitError{code: codeInterrupted, msg: "interrupted: " + again}
	case errors.Is(err, context.DeadlineExceeded):
		return w, &exitError{code: codeExpired, msg: fmt.Sprintf("timed out after %s: %s", humanDuration(timeout), again)}
	}
	return nil, a.explainID(err, r.ID)
}

// printRequest prints one request: its JSON, its id, or a summary.
func (a *cliApp) printRequest(cmd *cobra.Command, r *client.Request, raw []byte, human func(io.Writer, palette)) error {
	out := cmd.OutOrStdout()
	switch {
	case a.jsonOut:
		if raw == nil {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			raw = b
		}
		return printJSON(out, raw)
	case a.quiet:
		_, err := fmt.Fprintln(out, r.ID)
		return err
	}
	human(out, palette{on: a.colorOn(out)})
	return nil
}

// decideHint prints how to decide a pending request.
func (a *cliApp) decideHint(w io.Writer, p palette, r *client.Request) {
	fmt.Fprintf(w, "  approve:    %s\n", p.bold("agentgate approve "+r.ID))
	fmt.Fprintf(w, "  deny:       agentgate deny %s --reason \"...\"\n", r.ID)
	fmt.Fprintf(w, "  dashboard:  %s/requests/%s\n", a.baseURL(), r.ID)
}

// createdSummary prints what happened to a new request.
func (a *cliApp) createdSummary(w io.Writer, p palette, r *client.Request) {
	if r.Status.Final() {
		fmt.Fprintf(w, "Requested %s: %s, decided at once\n", p.bold(r.Action), r.ID)
		fmt.Fprintln(w, outcomeLine(r, p))
		return
	}
	fmt.Fprintf(w, "Requested %s: %s (%s, urgency %s)\n", p.bold(r.Action), r.ID, p.yellow("pending"), r.Urgency)
	if pd := r.PolicyDecision; pd.Reason != "" {
		fmt.Fprintf(w, "  routed:     %s\n", pd.Reason)
	}
	if !r.ExpiresAt.IsZero() {
		fmt.Fprintf(w, "  expires:    %s\n", relTime(r.ExpiresAt, a.now()))
	}
	a.decideHint(w, p, r)
}

func (a *cliApp) requestCmd() *cobra.Command {
	var (
		params, reqCtx, urgency, idemKey, expiresAt string
		expiresIn, timeout                          time.Duration
		wait                                        bool
	)
	cmd := &cobra.Command{
		Use:   "request ACTION",
		Short: "Ask for approval of an action (and wait for the decision with --wait)",
		Long: `Ask for approval of an action. A policy may decide at once; otherwise the
request waits for a person (dashboard, Slack, ` + "`agentgate approve`" + `...).

With --wait the command waits for the decision (a spinner shows the time
on a terminal) and its exit status says it: 0 approved, 3 denied,
4 expired or --timeout reached. Without --wait it exits 0 once the request
exists (3 or 4 if a policy denied it at once).

--params and --context take a JSON object, @FILE, or - for standard input.

` + exitCodesHelp,
		Example: `  agentgate request deploy --params '{"env":"prod","version":"1.4.2"}' --urgency high --wait
  agentgate request send_email --params @email.json --context '{"ticket":"T-42"}'
  id=$(agentgate request rotate_keys -q) && agentgate wait "$id" --timeout 30m
  agentgate request deploy --params '{"env":"prod"}' --wait --json | jq -r .decisionReason`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := client.RequestInput{Action: args[0], IdempotencyKey: idemKey}
			if strings.TrimSpace(in.Action) == "" {
				return usageErrorf(cmd, "the action must not be empty")
			}
			p, err := readObject(cmd, "params", params)
			if err != nil {
				return err
			}
			cx, err := readObject(cmd, "context", reqCtx)
			if err != nil {
				return err
			}
			if params == "-" && reqCtx == "-" {
				return usageErrorf(cmd, "only one of --params and --context can read standard input")
			}
			if p != nil {
				in.Params = p
			}
			if cx != nil {
				in.Context = cx
			}
			if in.Urgency, err = parseUrgency(cmd, urgency); err != nil {
				return err
			}
			if timeout < 0 {
				return usageErrorf(cmd, "--timeout must not be negative")
			}
			if in.ExpiresAt, err = a.expiry(cmd, expiresIn, expiresAt); err != nil {
				return err
			}
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			r, err := c.Request(cmd.Context(), in)
			if err != nil {
				return a.explain(err)
			}
			raw := a.rec.last()
			if !wait || r.Status.Final() {
				if err := a.printRequest(cmd, r, raw, func(w io.Writer, p palette) { a.createdSummary(w, p, r) }); err != nil {
					return err
				}
				return exitFor(r)
			}
			if !a.jsonOut && !a.quiet {
				out := cmd.OutOrStdout()
				a.createdSummary(out, palette{on: a.colorOn(out)}, r)
			}
			return a.finishWait(cmd, c, r, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&params, "params", "p", "", "the action's arguments: a JSON object, @FILE or - (stdin)")
	f.StringVarP(&reqCtx, "context", "c", "", "facts that help a person decide: a JSON object, @FILE or -")
	f.StringVarP(&urgency, "urgency", "u", "", "low, normal (the server's default), high or critical")
	f.DurationVar(&expiresIn, "expires-in", 0, "end the request if nobody decides within this time, e.g. 30m (default: the rule's or the server's timeout)")
	f.StringVar(&expiresAt, "expires-at", "", "end the request at this time (RFC 3339, e.g. 2026-05-01T18:00:00Z)")
	f.StringVar(&idemKey, "idempotency-key", "", "asking again with the same key and input returns the same request instead of a new one")
	f.BoolVarP(&wait, "wait", "w", false, "wait for the decision; the exit status says it")
	f.DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long (exit 4); default: until decided or expired")
	_ = cmd.RegisterFlagCompletionFunc("urgency", cobra.FixedCompletions([]string{"low", "normal", "high", "critical"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// expiry reads --expires-in and --expires-at. Only --expires-at gives the
// same request body on every run, which an idempotency key needs.
func (a *cliApp) expiry(cmd *cobra.Command, in time.Duration, at string) (time.Time, error) {
	switch {
	case in != 0 && at != "":
		return time.Time{}, usageErrorf(cmd, "give --expires-in or --expires-at, not both")
	case in < 0:
		return time.Time{}, usageErrorf(cmd, "--expires-in must be positive")
	case in > 0:
		return a.now().Add(in), nil
	case at != "":
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return time.Time{}, usageErrorf(cmd, "--expires-at %q: want an RFC 3339 time such as 2026-05-01T18:00:00Z", at)
		}
		return t, nil
	}
	return time.Time{}, nil
}

// finishWait waits for r, prints the outcome and returns the exit status.
func (a *cliApp) finishWait(cmd *cobra.Command, c *client.Client, r *client.Request, timeout time.Duration) error {
	a.rec.reset()
	w, err := a.waitDecision(cmd, c, r, timeout)
	if w == nil {
		return err
	}
	raw := a.rec.last()
	if err != nil && a.jsonOut {
		_ = a.printRequest(cmd, w, raw, nil) // the last state seen
		return err
	}
	if err != nil {
		return err
	}
	if perr := a.printRequest(cmd, w, raw, func(out io.Writer, p palette) {
		line := outcomeLine(w, p)
		if !w.DecidedAt.IsZero() && !w.CreatedAt.IsZero() {
			line += p.grey(" · after " + shortDuration(w.DecidedAt.Sub(w.CreatedAt)))
		}
		fmt.Fprintln(out, line)
		if w.Approved() && len(w.ApprovedParams) > 0 {
			fmt.Fprintf(out, "%s the approver edited the params: act on %s\n", p.yellow("!"), compactJSON(w.ApprovedParams))
		}
	}); perr != nil {
		return perr
	}
	return exitFor(w)
}

func (a *cliApp) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status ID",
		Short: "Show a request",
		Long: `Show a request: its status, params, context, policy routing and decision.
--quiet prints the status alone (pending, approved, denied or expired).
The exit status is 0 whatever the request's status; use ` + "`agentgate wait`" + `
to turn a decision into an exit status.`,
		Example: `  agentgate status req_0199d2c4-...
  agentgate status req_0199d2c4-... --json | jq .params
  [ "$(agentgate status "$id" -q)" = approved ] && ./deploy.sh`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeRequestIDs(""),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			r, err := c.Get(cmd.Context(), args[0])
			if err != nil {
				return a.explainID(err, args[0])
			}
			if a.quiet {
				fmt.Fprintln(cmd.OutOrStdout(), r.Status)
				return nil
			}
			return a.printRequest(cmd, r, a.rec.last(), func(w io.Writer, p palette) { a.detail(w, p, r) })
		},
	}
}

// detail prints every field of a request for people.
func (a *cliApp) detail(w io.Writer, p palette, r *client.Request) {
	now := a.now()
	fmt.Fprintf(w, "%s  %s\n", p.bold(r.ID), p.bold(r.Action))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	status := p.paint(statusSGR(string(r.Status)), string(r.Status))
	if r.Status == client.StatusPending && !r.ExpiresAt.IsZero() {
		status += " · expires " + relTime(r.ExpiresAt, now)
	}
	row("status", status)
	row("urgency", string(r.Urgency))
	row("params", compactJSON(r.Params))
	row("context", compactJSON(r.Context))
	agent := r.Agent.Name
	if r.Agent.ID != "" {
		agent += " (" + r.Agent.ID + ")"
	}
	row("agent", agent)
	row("created", relTime(r.CreatedAt, now)+p.grey(" · "+r.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC")))
	pd := r.PolicyDecision
	routed := pd.Decision
	if pd.Reason != "" {
		routed += ": " + pd.Reason
	}
	row("policy", routed)
	if len(pd.Approvers) > 0 {
		row("approvers", strings.Join(pd.Approvers, ", "))
	}
	if pd.RequireReason {
		row("reason", "required to decide")
	}
	if q := r.Approvals; q != nil {
		row("approvals", fmt.Sprintf("%d of %d", q.Received, q.Required))
	}
	if r.EscalationLevel > 0 {
		row("escalated", fmt.Sprintf("%d time(s)", r.EscalationLevel))
	}
	if len(r.ApprovedParams) > 0 {
		row("approved", "with edited params "+compactJSON(r.ApprovedParams))
	}
	if r.Status.Final() {
		row("decided", strings.TrimPrefix(outcomeLine(r, p), "")+p.grey(" · "+relTime(r.DecidedAt, now)))
	}
	tw.Flush()
	if r.Status == client.StatusPending {
		fmt.Fprintln(w)
		a.decideHint(w, p, r)
	}
}

// compactJSON prints a JSON object on one line, shortened for a terminal.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return truncate(b.String(), 200)
}

func (a *cliApp) waitCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait ID",
		Short: "Wait for a request's decision; the exit status says it",
		Long: `Wait until a request is decided and print the outcome. The server answers
the moment someone decides (a long-poll, not polling); a spinner shows the
time waited on a terminal. Dropped connections and server restarts are
retried until --timeout.

` + exitCodesHelp,
		Example: `  agentgate wait req_0199d2c4-... --timeout 15m && ./deploy.sh
  agentgate wait "$id" --json | jq -r .decidedBy`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: a.completeRequestIDs(client.StatusPending),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return usageErrorf(cmd, "--timeout must not be negative")
			}
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			// Read it first: a wrong id or key fails at once, not after a
			// long-poll.
			a.rec.reset()
			r, err := c.Get(cmd.Context(), args[0])
			if err != nil {
				return a.explainID(err, args[0])
			}
			if r.Status.Final() {
				raw := a.rec.last()
				if err := a.printRequest(cmd, r, raw, func(w io.Writer, p palette) { fmt.Fprintln(w, outcomeLine(r, p)) }); err != nil {
					return err
				}
				return exitFor(r)
			}
			return a.finishWait(cmd, c, r, timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (exit 4), e.g. 10m; default: until decided or expired")
	return cmd
}

func (a *cliApp) listCmd() *cobra.Command {
	var (
		status, action, sort string
		limit                int
		all                  bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List requests, newest first",
		Long: `List requests, newest first. Without --all it shows one page (--limit,
default 20) and says how many more there are. --json prints a JSON array
of the server's request objects; --quiet prints their ids.`,
		Example: `  agentgate list --status pending
  agentgate list --action deploy --limit 50
  agentgate list --status pending --all -q | xargs -n1 agentgate approve --reason "bulk OK"
  agentgate list --all --json | jq 'group_by(.status) | map({(.[0].status): length}) | add'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.ListOptions{Action: action}
			switch st := client.Status(strings.ToLower(status)); st {
			case "", client.StatusPending, client.StatusApproved, client.StatusDenied, client.StatusExpired:
				opts.Status = st
			default:
				return usageErrorf(cmd, "--status %q: want pending, approved, denied or expired", status)
			}
			switch sort {
			case "", "newest":
			case "oldest":
				opts.Sort = client.SortOldest
			case "urgency":
				opts.Sort = client.SortUrgency
			case "expiry":
				opts.Sort = client.SortSLARemaining
			default:
				return usageErrorf(cmd, "--sort %q: want newest, oldest, urgency or expiry", sort)
			}
			if limit < 1 || limit > 100 {
				return usageErrorf(cmd, "--limit must be between 1 and 100")
			}
			opts.Limit = limit
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			var (
				reqs []*client.Request
				page client.Page
			)
			if all {
				for r, err := range c.List(cmd.Context(), opts) {
					if err != nil {
						return a.explain(err)
					}
					reqs = append(reqs, r)
				}
			} else {
				pg, err := c.ListPage(cmd.Context(), opts)
				if err != nil {
					return a.explain(err)
				}
				reqs, page = pg.Requests, pg.Page
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				return printPages(a, out, "requests", reqs, func(r *client.Request) string { return r.ID })
			case a.quiet:
				for _, r := range reqs {
					fmt.Fprintln(out, r.ID)
				}
				return nil
			}
			if len(reqs) == 0 {
				fmt.Fprintln(out, "No requests.")
				return nil
			}
			p := palette{on: a.colorOn(out)}
			now := a.now()
			t := newTable(out, p, "ID", "ACTION", "STATUS", "URGENCY", "AGENT", "CREATED", "DECISION")
			t.color(2, statusSGR)
			for _, r := range reqs {
				var dec string
				switch {
				case r.Status == client.StatusPending && !r.ExpiresAt.IsZero():
					dec = "expires " + relTime(r.ExpiresAt, now)
				case r.Status.Final():
					dec = "by " + decider(r) + " " + relTime(r.DecidedAt, now)
				}
				t.add(r.ID, truncate(r.Action, 40), string(r.Status), string(r.Urgency), truncate(r.Agent.Name, 24), relTime(r.CreatedAt, now), dec)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if !all && page.HasMore {
				fmt.Fprintf(cmd.ErrOrStderr(), "Showing %d of %d; use --limit or --all for more.\n", len(reqs), page.Total)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&status, "status", "s", "", "pending, approved, denied or expired")
	f.StringVarP(&action, "action", "a", "", "only this action")
	f.StringVar(&sort, "sort", "newest", "newest, oldest, urgency or expiry")
	f.IntVarP(&limit, "limit", "l", 20, "requests per page (1 to 100)")
	f.BoolVar(&all, "all", false, "every matching request, page after page")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions([]string{"pending", "approved", "denied", "expired"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("sort", cobra.FixedCompletions([]string{"newest", "oldest", "urgency", "expiry"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// printPages prints, as one JSON array, the objects of the list answers
// recorded since the last reset (member name of the envelope), keeping
// only those the iteration yielded (List skips repeats across pages).
func printPages[T any](a *cliApp, w io.Writer, member string, items []T, id func(T) string) error {
	want := make(map[string]int, len(items))
	for _, it := range items {
		want[id(it)]++
	}
	var out []json.RawMessage
	for _, body := range a.rec.all() {
		raws, err := field(body, member)
		if err != nil {
			return err
		}
		for _, raw := range raws {
			var head struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(raw, &head) == nil && want[head.ID] > 0 {
				want[head.ID]--
				out = append(out, raw)
			}
		}
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	return printJSONArray(w, out)
}

func (a *cliApp) decideCmd(verb string) *cobra.Command {
	var reason, label, params, grantIf string
	var grantFor time.Duration
	var grantUses int
	decision, past := client.StatusApproved, "Approved"
	if verb == "deny" {
		decision, past = client.StatusDenied, "Denied"
	}
	cmd := &cobra.Command{
		Use:   verb + " ID...",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " pending requests",
		Long: strings.ToUpper(verb[:1]) + verb[1:] + ` one or more pending requests. The decision is recorded as your API
key's (it needs the request:decide scope, and cannot be the key that made
the request); --label adds a display name such as "alice (on call)".
Some rules require a --reason. With several ids each is decided in turn;
the exit status is 1 if any failed.` + map[string]string{"approve": `

--params approves with edited params (the agent must act on them; the
policies are checked again and an edit they would deny is refused).
--grant 1h also approves the same agent's next requests for the same
action for an hour (--grant-uses caps how many, --grant-if restricts them
to params matching a policy match object).`, "deny": ""}[verb],
		Example: fmt.Sprintf(`  agentgate %[1]s req_0199d2c4-... --reason "checked the diff"
  agentgate list --status pending --action cache.flush -q | xargs agentgate %[1]s`, verb),
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: a.completeRequestIDs(client.StatusPending),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			p := palette{on: a.colorOn(out)}
			var (
				raws   []json.RawMessage
				failed []error
			)
			in := client.DecideInput{Decision: decision, Reason: reason, Label: label}
			if params != "" {
				if len(args) > 1 {
					return usageErrorf(cmd, "--params edits one request: give one id")
				}
				raw, err := readObject(cmd, "params", params)
				if err != nil {
					return err
				}
				in.Params = raw
			}
			if grantFor > 0 {
				in.Grant = &client.GrantInput{Duration: grantFor, MaxUses: grantUses}
				if grantIf != "" {
					raw, err := readObject(cmd, "grant-if", grantIf)
					if err != nil {
						return err
					}
					if err := json.Unmarshal(raw, &in.Grant.Conditions); err != nil {
						return usageErrorf(cmd, "--grant-if: %v", err)
					}
				}
			} else if grantUses != 0 || grantIf != "" {
				return usageErrorf(cmd, "--grant-uses and --grant-if go with --grant DURATION")
			}
			for _, id := range args {
				a.rec.reset()
				r, err := c.Decide(cmd.Context(), id, in)
				if err != nil {
					err = a.explainDecide(cmd, c, err, id, verb)
					if len(args) == 1 {
						return err
					}
					fmt.Fprintln(cmd.ErrOrStderr(), "agentgate:", err)
					failed = append(failed, err)
					continue
				}
				switch {
				case a.jsonOut:
					raws = append(raws, a.rec.last())
				case a.quiet:
					fmt.Fprintln(out, r.ID)
				case r.Status == client.StatusPending && r.Approvals != nil:
					fmt.Fprintf(out, "%s Approval recorded for %s (%s): %d of %d, waiting for %d more\n", p.green("✔"), r.ID, r.Action,
						r.Approvals.Received, r.Approvals.Required, r.Approvals.Required-r.Approvals.Received)
				default:
					mark := p.green("✔")
					if decision == client.StatusDenied {
						mark = p.red("✘")
					}
					fmt.Fprintf(out, "%s %s %s (%s)\n", mark, past, r.ID, r.Action)
				}
			}
			if a.jsonOut {
				var err error
				if len(args) == 1 && len(raws) == 1 {
					err = printJSON(out, raws[0])
				} else {
					err = printJSONArray(out, raws)
				}
				if err != nil {
					return err
				}
			}
			if len(failed) > 0 {
				return &exitError{code: codeError, msg: fmt.Sprintf("%d of %d requests not %s", len(failed), len(args), strings.ToLower(past))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&reason, "reason", "r", "", "why; shown to the agent and kept in the audit trail")
	cmd.Flags().StringVar(&label, "label", "", "display name for the decider, e.g. \"alice (on call)\"")
	if verb == "approve" {
		cmd.Flags().StringVar(&params, "params", "", "approve with edited params: JSON, @file or - for stdin")
		cmd.Flags().DurationVar(&grantFor, "grant", 0, "also approve the agent's next requests for this action for this long, e.g. 1h")
		cmd.Flags().IntVar(&grantUses, "grant-uses", 0, "with --grant: at most this many requests (0: no limit)")
		cmd.Flags().StringVar(&grantIf, "grant-if", "", "with --grant: only requests whose params match this match object (JSON or @file)")
	}
	return cmd
}

// explainDecide says why a decision failed, naming the request.
func (a *cliApp) explainDecide(cmd *cobra.Command, c *client.Client, err error, id, verb string) error {
	switch {
	case errors.Is(err, client.ErrConflict):
		r, gerr := c.Get(cmd.Context(), id)
		if gerr != nil {
			return &exitError{code: codeError, msg: fmt.Sprintf("request %s is no longer pending", id)}
		}
		msg := fmt.Sprintf("request %s is already %s", id, r.Status)
		if r.Status != client.StatusExpired {
			msg += " (by " + decider(r) + ", " + relTime(r.DecidedAt, a.now()) + ")"
		}
		return &exitError{code: codeError, msg: msg}
	case errors.Is(err, client.ErrInvalid):
		if apiErr, ok := errors.AsType[*client.APIError](err); ok {
			msg := fmt.Sprintf("cannot %s %s: %s", verb, id, apiErr.Message)
			if strings.Contains(strings.ToLower(apiErr.Message), "reason") {
				msg += ` (add --reason "...")`
			}
			return &exitError{code: codeError, msg: msg}
		}
	case errors.Is(err, client.ErrForbidden):
		if apiErr, ok := errors.AsType[*client.APIError](err); ok && !scopeRE.MatchString(apiErr.Message) {
			return &exitError{code: codeError, msg: fmt.Sprintf("cannot %s %s: %s", verb, id, apiErr.Message)}
		}
	}
	return a.explainID(err, id)
}

// completeRequestIDs completes request ids (of a status, "" for any) for
// the shells, with the action as the description.
func (a *cliApp) completeRequestIDs(status client.Status) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := a.api(cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
		defer cancel()
		pg, err := c.ListPage(ctx, client.ListOptions{Status: status, Limit: 100})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, r := range pg.Requests {
			if strings.HasPrefix(r.ID, toComplete) {
				out = append(out, cobra.CompletionWithDesc(r.ID, r.Action+" ("+string(r.Status)+", "+relTime(r.CreatedAt, a.now())+")"))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
