package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/policy"
)

func (a *cliApp) policiesCmd() *cobra.Command {
	return groupCmd("policies", "List, show, validate, apply and try policies",
		`Manage the policies that decide requests: auto-approve what is safe,
auto-deny what is forbidden, route the rest to people. validate works
offline; the other commands need an admin key.

Policy files are YAML or JSON: a list of policies or {"policies": [...]},
each {name, priority, enabled, scope, rules: [{match, when, decision, ...}]}.
See docs/policies.md for the matcher language.`,
		a.policiesListCmd(), a.policiesGetCmd(), a.policiesValidateCmd(), a.policiesApplyCmd(), a.policiesDryRunCmd())
}

func (a *cliApp) policiesListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List policies in evaluation order",
		Example: "  agentgate policies list\n  agentgate policies list --json > policies.json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			ps, err := a.allPolicies(cmd, c)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				return printPages(a, out, "policies", ps, func(p *client.Policy) string { return p.ID })
			case a.quiet:
				for _, p := range ps {
					fmt.Fprintln(out, p.ID)
				}
				return nil
			}
			if len(ps) == 0 {
				fmt.Fprintln(out, "No policies: every request goes to a person. Add some with `agentgate policies apply -f FILE`.")
				return nil
			}
			pal := palette{on: a.colorOn(out)}
			t := newTable(out, pal, "ID", "NAME", "PRIORITY", "ENABLED", "SCOPE", "RULES", "SOURCE", "UPDATED")
			t.color(3, func(s string) string {
				if s == "yes" {
					return sgrGreen
				}
				return sgrGrey
			})
			for _, p := range ps {
				enabled := "no"
				if p.Enabled {
					enabled = "yes"
				}
				t.add(p.ID, truncate(p.Name, 40), strconv.Itoa(p.Priority), enabled, p.Scope, strconv.Itoa(len(p.Rules)), p.Source, relTime(p.UpdatedAt, a.now()))
			}
			return t.flush()
		},
	}
}

// allPolicies reads every page of policies.
func (a *cliApp) allPolicies(cmd *cobra.Command, c *client.Client) ([]*client.Policy, error) {
	var out []*client.Policy
	for offset := 0; ; {
		pg, err := c.ListPolicies(cmd.Context(), client.PageOptions{Limit: 100, Offset: offset})
		if err != nil {
			return nil, a.explain(err)
		}
		out = append(out, pg.Policies...)
		if !pg.Page.HasMore || len(pg.Policies) == 0 {
			return out, nil
		}
		offset += len(pg.Policies)
	}
}

// findPolicy finds a policy by id, else by name.
func (a *cliApp) findPolicy(cmd *cobra.Command, c *client.Client, ref string) (*client.Policy, error) {
	ps, err := a.allPolicies(cmd, c)
	if err != nil {
		return nil, err
	}
	var byName []*client.Policy
	for _, p := range ps {
		if p.ID == ref {
			return p, nil
		}
		if p.Name == ref {
			byName = append(byName, p)
		}
	}
	switch len(byName) {
	case 0:
		return nil, &exitError{code: codeError, msg: fmt.Sprintf("no policy has the id or name %q (see `agentgate policies list`)", ref)}
	case 1:
		return byName[0], nil
	}
	return nil, &exitError{code: codeError, msg: fmt.Sprintf("%d policies are named %q: give the id", len(byName), ref)}
}

func (a *cliApp) policiesGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "get ID|NAME",
		Short:   "Show a policy and its rules",
		Example: "  agentgate policies get deploy-guard\n  agentgate policies get pol_0199d2c4-... --json",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			p, err := a.findPolicy(cmd, c, args[0])
			if err != nil {
				return err
			}
			a.rec.reset()
			p, err = c.GetPolicy(cmd.Context(), p.ID)
			if err != nil {
				return a.explain(err)
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				return printJSON(out, a.rec.last())
			case a.quiet:
				fmt.Fprintln(out, p.ID)
				return nil
			}
			pal := palette{on: a.colorOn(out)}
			state := pal.green("enabled")
			if !p.Enabled {
				state = pal.grey("disabled")
			}
			fmt.Fprintf(out, "%s  %s  (%s, priority %d, scope %s, source %s)\n", pal.bold(p.Name), p.ID, state, p.Priority, p.Scope, p.Source)
			if len(p.AgentIDs) > 0 {
				fmt.Fprintf(out, "  agents: %s\n", strings.Join(p.AgentIDs, ", "))
			}
			if len(p.ToolIDs) > 0 {
				fmt.Fprintf(out, "  tools:  %s\n", strings.Join(p.ToolIDs, ", "))
			}
			for i, r := range p.Rules {
				fmt.Fprintf(out, "  rule %d: %s\n", i, describeRule(r, pal))
			}
			return nil
		},
	}
}

// describeRule summarises a rule on one line.
func describeRule(r client.Rule, p palette) string {
	m, _ := json.Marshal(r.Match)
	s := "match " + string(m)
	if len(r.Match) == 0 {
		s = "every request"
	}
	if r.When != "" {
		s += " when " + r.When
	}
	dec := r.Decision
	switch dec {
	case client.DecisionAutoApprove:
		dec = p.green(dec)
	case client.DecisionAutoDeny:
		dec = p.red(dec)
	default:
		dec = p.yellow(dec)
	}
	s += " → " + dec
	var extra []string
	if len(r.Approvers) > 0 {
		extra = append(extra, "approvers "+strings.Join(r.Approvers, ","))
	}
	if len(r.Channels) > 0 {
		extra = append(extra, "channels "+strings.Join(r.Channels, ","))
	}
	if r.RequireReason {
		extra = append(extra, "reason required")
	}
	if q := r.Approvals; q != nil && q.Required > 1 {
		a := fmt.Sprintf("%d approvals", q.Required)
		if len(q.From) > 0 {
			a += " from " + strings.Join(q.From, ",")
		}
		extra = append(extra, a)
	}
	for _, e := range r.Escalate {
		after := e.After
		if d, err := time.ParseDuration(after); err == nil {
			after = humanDuration(d)
		}
		extra = append(extra, "after "+after+" escalate to "+strings.Join(e.To, ","))
	}
	if r.Timeout > 0 {
		t := "timeout " + humanDuration(time.Duration(r.Timeout))
		if r.OnTimeout != "" {
			t += " then " + r.OnTimeout
		}
		extra = append(extra, t)
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	return s
}

// policyProblem is one validation problem, for --json.
type policyProblem struct {
	Line    int    `json:"line,omitempty"`
	Policy  string `json:"policy,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text"` // the whole line as printed
}

// parsePolicyFile reads and validates a policy file offline, returning
// every problem with its location.
func parsePolicyFile(cmd *cobra.Command, file string) ([]policy.Policy, []policyProblem, error) {
	var (
		data []byte
		err  error
		name = file
	)
	if file == "-" {
		data, err = io.ReadAll(cmd.InOrStdin())
		name = "<stdin>"
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, nil, &exitError{code: codeError, msg: fmt.Sprintf("read %s: %v", file, err)}
	}
	ps, err := policy.ParseFile(name, data)
	if err == nil {
		_, err = policy.Compile(ps) // problems across policies (duplicate ids)
	}
	if err == nil {
		return ps, nil, nil
	}
	var ve *policy.ValidationError
	if !errors.As(err, &ve) {
		return nil, []policyProblem{{Message: err.Error(), Text: name + ": " + err.Error()}}, nil
	}
	probs := make([]policyProblem, 0, len(ve.Errors))
	for _, fe := range ve.Errors {
		text := fe.Error()
		if !strings.HasPrefix(text, name+":") {
			if fe.Line > 0 {
				text = fmt.Sprintf("%s:%d: %s", name, fe.Line, text)
			} else {
				text = name + ": " + text
			}
		}
		probs = append(probs, policyProblem{Line: fe.Line, Policy: fe.Policy, Field: fe.Field, Message: fe.Message, Text: text})
	}
	return nil, probs, nil
}

func (a *cliApp) policiesValidateCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a policy file offline; every problem with its file:line",
		Long: `Check a policy file (YAML or JSON) without a server: unknown keys, wrong
types, bad matchers, regular expressions and CEL conditions, duplicate ids.
Every problem is reported with its location; the exit status is 1 when
there is any. -f - reads standard input.`,
		Example: `  agentgate policies validate -f policies.yaml
  agentgate policies validate -f policies.json --json | jq '.errors[].text'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageErrorf(cmd, "-f FILE is required")
			}
			ps, probs, err := parsePolicyFile(cmd, file)
			if err != nil {
				return err
			}
			rules := 0
			for _, p := range ps {
				rules += len(p.Rules)
			}
			out := cmd.OutOrStdout()
			if a.jsonOut {
				if probs == nil {
					probs = []policyProblem{}
				}
				if err := printValue(out, map[string]any{"file": file, "valid": len(probs) == 0, "policies": len(ps), "rules": rules, "errors": probs}); err != nil {
					return err
				}
			} else if len(probs) == 0 && !a.quiet {
				pal := palette{on: a.colorOn(out)}
				fmt.Fprintf(out, "%s %s: %s, %s, valid\n", pal.green("✔"), file, plural(len(ps), "policy", "policies"), plural(rules, "rule", "rules"))
			}
			if len(probs) == 0 {
				return nil
			}
			if !a.jsonOut {
				for _, p := range probs {
					fmt.Fprintln(out, p.Text)
				}
			}
			return &exitError{code: codeError, msg: fmt.Sprintf("%s is not valid: %d problem(s)", file, len(probs))}
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the policy file (YAML or JSON), - for standard input")
	return cmd
}

func (a *cliApp) policiesApplyCmd() *cobra.Command {
	var (
		file   string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update the server's policies from a file",
		Long: `Create or update policies from a file (YAML or JSON), after validating it
offline. Each policy in the file is matched to a stored one by id when it
has one, else by name: a match is replaced (PUT) if it differs, otherwise
a new policy is created. Policies that are not in the file are left alone.
--dry-run shows what would change.

Policies loaded by the server from AGENTGATE_POLICY_FILE are read-only
through the API; change that file instead.`,
		Example: `  agentgate policies apply -f policies.yaml --dry-run
  agentgate policies apply -f policies.yaml`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageErrorf(cmd, "-f FILE is required")
			}
			ps, probs, err := parsePolicyFile(cmd, file)
			if err != nil {
				return err
			}
			if len(probs) > 0 {
				for _, p := range probs {
					fmt.Fprintln(cmd.ErrOrStderr(), p.Text)
				}
				return &exitError{code: codeError, msg: fmt.Sprintf("%s is not valid: %d problem(s); nothing was applied", file, len(probs))}
			}
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			stored, err := a.allPolicies(cmd, c)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			pal := palette{on: a.colorOn(out)}
			type result struct {
				Action string          `json:"action"` // created, updated, unchanged
				ID     string          `json:"id,omitempty"`
				Name   string          `json:"name"`
				Policy json.RawMessage `json:"policy,omitempty"`
			}
			var results []result
			for _, p := range ps {
				in, err := toPolicyInput(p)
				if err != nil {
					return err
				}
				cur, err := matchPolicy(stored, p)
				if err != nil {
					return err
				}
				res := result{Name: p.Name}
				a.rec.reset()
				switch {
				case cur == nil:
					res.Action = "created"
					if !dryRun {
						np, err := c.CreatePolicy(cmd.Context(), in)
						if err != nil {
							return a.applyError(err, p.Name)
						}
						res.ID, res.Policy = np.ID, a.rec.last()
					}
				case samePolicy(in, cur):
					res.Action, res.ID = "unchanged", cur.ID
				default:
					res.Action, res.ID = "updated", cur.ID
					if !dryRun {
						if _, err := c.UpdatePolicy(cmd.Context(), cur.ID, in); err != nil {
							return a.applyError(err, p.Name)
						}
						res.Policy = a.rec.last()
					}
				}
				results = append(results, res)
				if !a.jsonOut && !a.quiet {
					verb := map[string]string{"created": pal.green("created"), "updated": pal.yellow("updated"), "unchanged": pal.grey("unchanged")}[res.Action]
					if dryRun && res.Action != "unchanged" {
						verb = "would be " + verb
					}
					id := ""
					if res.ID != "" {
						id = " (" + res.ID + ")"
					}
					fmt.Fprintf(out, "%s %q%s\n", verb, p.Name, id)
				} else if a.quiet && res.ID != "" {
					fmt.Fprintln(out, res.ID)
				}
			}
			if a.jsonOut {
				if results == nil {
					results = []result{}
				}
				return printValue(out, map[string]any{"file": file, "dryRun": dryRun, "results": results})
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the policy file (YAML or JSON), - for standard input")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change without changing anything")
	return cmd
}

func (a *cliApp) applyError(err error, name string) error {
	e := a.explain(err)
	if ee, ok := errors.AsType[*exitError](e); ok {
		return &exitError{code: ee.code, msg: fmt.Sprintf("policy %q: %s (the policies before it were applied)", name, ee.msg)}
	}
	return e
}

// toPolicyInput converts a parsed policy to the SDK's input: the JSON
// shapes are the same.
func toPolicyInput(p policy.Policy) (client.PolicyInput, error) {
	var in client.PolicyInput
	b, err := json.Marshal(p)
	if err != nil {
		return in, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("policy %q: %w", p.Name, err)
	}
	if in.Enabled == nil {
		in.Enabled = &p.Enabled
	}
	if in.Priority == nil {
		in.Priority = &p.Priority
	}
	// Refuse to apply a policy the SDK would send incompletely (a field
	// newer than this CLI): the server would store it without that field.
	want, got := canonical(p), canonical(in)
	if w, ok := want.(map[string]any); ok {
		delete(w, "id")
	}
	if !reflect.DeepEqual(want, got) {
		return in, &exitError{code: codeError, msg: fmt.Sprintf("policy %q uses a field this agentgate CLI cannot send; use a newer CLI", p.Name)}
	}
	return in, nil
}

// matchPolicy finds the stored policy a file's policy stands for: the
// same id, else the same name.
func matchPolicy(stored []*client.Policy, p policy.Policy) (*client.Policy, error) {
	if p.ID != "" {
		for _, s := range stored {
			if s.ID == p.ID {
				return s, nil
			}
		}
		return nil, nil
	}
	var found []*client.Policy
	for _, s := range stored {
		if s.Name == p.Name {
			found = append(found, s)
		}
	}
	if len(found) > 1 {
		return nil, &exitError{code: codeError, msg: fmt.Sprintf("%d stored policies are named %q: give the policy an id in the file", len(found), p.Name)}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return nil, nil
}

// samePolicy reports whether applying in to cur would change nothing.
func samePolicy(in client.PolicyInput, cur *client.Policy) bool {
	have := client.PolicyInput{Name: cur.Name, Priority: &cur.Priority, Enabled: &cur.Enabled, Scope: cur.Scope,
		AgentIDs: cur.AgentIDs, ToolIDs: cur.ToolIDs, Rules: cur.Rules}
	if in.Scope == "" {
		in.Scope = "global"
	}
	if have.Scope == "" {
		have.Scope = "global"
	}
	return reflect.DeepEqual(canonical(in), canonical(have))
}

// canonical is v as generic JSON without empty members, so that absent,
// null and empty compare equal.
func canonical(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&x) != nil {
		return nil
	}
	return prune(x)
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			e = prune(e)
			if isEmpty(e) {
				delete(x, k)
				continue
			}
			x[k] = e
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = prune(e)
		}
		return x
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func (a *cliApp) policiesDryRunCmd() *cobra.Command {
	var params, reqCtx, urgency, policyRef string
	cmd := &cobra.Command{
		Use:   "dry-run ACTION",
		Short: "Show what the stored policies would decide for a request",
		Long: `Evaluate a request against the stored policies (or one policy with
--policy) without creating it: which policy and rule match, and the
decision.`,
		Example: `  agentgate policies dry-run deploy --params '{"env":"prod"}'
  agentgate policies dry-run send_email --params @email.json --policy email-guard`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := client.DryRunInput{Action: args[0]}
			p, err := readObject(cmd, "params", params)
			if err != nil {
				return err
			}
			cx, err := readObject(cmd, "context", reqCtx)
			if err != nil {
				return err
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
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			id := ""
			if policyRef != "" {
				pol, err := a.findPolicy(cmd, c, policyRef)
				if err != nil {
					return err
				}
				id = pol.ID
			}
			a.rec.reset()
			res, err := c.DryRun(cmd.Context(), id, in)
			if err != nil {
				return a.explain(err)
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				return printJSON(out, a.rec.last())
			case a.quiet:
				fmt.Fprintln(out, res.Decision)
				return nil
			}
			pal := palette{on: a.colorOn(out)}
			dec := res.Decision
			switch dec {
			case client.DecisionAutoApprove:
				dec = pal.green("auto_approve") + ": approved at once"
			case client.DecisionAutoDeny:
				dec = pal.red("auto_deny") + ": denied at once"
			default:
				dec = pal.yellow(dec) + ": waits for a person"
			}
			fmt.Fprintf(out, "%s → %s\n", args[0], dec)
			if res.Matched && res.RuleIndex != nil {
				fmt.Fprintf(out, "  matched:  policy %q (%s) rule %d\n", res.PolicyName, res.PolicyID, *res.RuleIndex)
			} else {
				fmt.Fprintln(out, "  matched:  no rule")
			}
			if res.Reason != "" {
				fmt.Fprintf(out, "  reason:   %s\n", res.Reason)
			}
			if len(res.Approvers) > 0 {
				fmt.Fprintf(out, "  approvers: %s\n", strings.Join(res.Approvers, ", "))
			}
			for _, e := range res.Errors {
				fmt.Fprintf(out, "  %s %s\n", pal.yellow("condition error:"), e)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&params, "params", "p", "", "the request's params: a JSON object, @FILE or -")
	f.StringVarP(&reqCtx, "context", "c", "", "the request's context: a JSON object, @FILE or -")
	f.StringVarP(&urgency, "urgency", "u", "", "low, normal, high or critical")
	f.StringVar(&policyRef, "policy", "", "evaluate against this policy only (id or name)")
	return cmd
}
