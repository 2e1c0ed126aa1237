package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/app"
)

// The demo's agent key and policy, found again by name on a rerun.
const (
	demoKeyName    = "agentgate-demo-agent"
	demoPolicyName = "agentgate-demo"
)

// demoPolicy auto-approves demo.read_*, auto-denies
// demo.delete_production and routes the other demo.* actions to a person,
// for the demo agent only (per_agent scope), so it never touches real
// traffic.
func demoPolicy() client.PolicyInput {
	return client.PolicyInput{
		Name:     demoPolicyName,
		Priority: new(1),
		Enabled:  new(true),
		Scope:    "per_agent",
		AgentIDs: []string{demoKeyName},
		Rules: []client.Rule{
			{Match: map[string]any{"action": map[string]any{"$glob": "demo.read_*"}}, Decision: client.DecisionAutoApprove},
			{Match: map[string]any{"action": "demo.delete_production"}, Decision: client.DecisionAutoDeny},
			{Match: map[string]any{"action": map[string]any{"$glob": "demo.*"}}, Decision: client.DecisionRouteToHuman,
				Timeout: client.Duration(15 * time.Minute)},
		},
	}
}

func (a *cliApp) demoCmd() *cobra.Command {
	var (
		timeout time.Duration
		noWait  bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Walk through the whole flow against a running server",
		Long: `A scripted agent shows the whole flow against a running server. With your
admin key it creates a demo agent key and a demo policy (auto-approve
demo.read_*, auto-deny demo.delete_production, route the other demo.*
actions to a person; it applies to the demo agent only). Then, as the
agent, it makes three requests: one a policy approves at once, one a
policy denies at once, and one that waits for you, in the dashboard or
with ` + "`agentgate approve`" + ` in another terminal.

Safe to run again: it revokes the previous demo agent key and updates the
demo policy. At the end the demo agent key is revoked.`,
		Example: `  agentgate server &           # prints an admin key on its first start
  export AGENTGATE_API_KEY=agk_...
  agentgate demo`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.jsonOut || a.quiet {
				return usageErrorf(cmd, "the demo is for people: --json and --quiet do not apply")
			}
			admin, err := a.api(cmd)
			if err != nil {
				return err
			}
			d := &demo{a: a, cmd: cmd, admin: admin, out: cmd.OutOrStdout(), timeout: timeout, noWait: noWait}
			d.p = palette{on: a.colorOn(d.out)}
			return d.run(cmd.Context())
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long the agent waits for your decision in step 3")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "leave step 3 pending instead of waiting for a decision")
	return cmd
}

type demo struct {
	a       *cliApp
	cmd     *cobra.Command
	admin   *client.Client
	agent   *client.Client
	out     io.Writer
	p       palette
	timeout time.Duration
	noWait  bool
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d *demo) run(ctx context.Context) error {
	a := d.a
	me, err := d.admin.Me(ctx)
	if err != nil {
		return a.explain(err)
	}
	if !slices.Contains(me.Scopes, client.ScopeAdmin) {
		return &exitError{code: codeError, msg: fmt.Sprintf("the demo needs an admin key to create its agent key and policy; this key (%s) has %s", me.Name, joinScopes(me.Scopes))}
	}
	d.printf("%s · %s\n\n", d.p.bold("AgentGate demo"), a.baseURL())

	// Setup, as the admin.
	d.printf("%s\n", d.p.bold("Setting up, as "+me.Name))
	keys, err := d.admin.ListKeys(ctx)
	if err != nil {
		return a.explain(err)
	}
	for _, k := range keys {
		if k.Name == demoKeyName && k.Active {
			if err := d.admin.RevokeKey(ctx, k.ID); err != nil {
				return a.explain(err)
			}
		}
	}
	key, err := d.admin.CreateKey(ctx, client.KeyInput{Name: demoKeyName, Scopes: []client.Scope{client.ScopeRequestCreate, client.ScopeRequestRead}})
	if err != nil {
		return a.explain(err)
	}
	defer func() {
		// Revoke the demo key even after Ctrl-C.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = d.admin.RevokeKey(cctx, key.ID)
	}()
	d.printf("  %s agent key %q: may ask (request:create, request:read), not decide\n", d.p.green("✔"), key.Name)
	pol, verb, err := d.upsertPolicy(ctx)
	if err != nil {
		return a.explain(err)
	}
	d.printf("  %s policy %q %s, for the demo agent only:\n", d.p.green("✔"), pol.Name, verb)
	d.printf("      demo.read_*               → %s\n", d.p.green("auto-approve"))
	d.printf("      demo.delete_production    → %s\n", d.p.red("auto-deny"))
	d.printf("      any other demo.*          → %s\n\n", d.p.yellow("a person decides"))

	d.agent, err = client.New(a.baseURL(), key.Secret,
		client.WithHTTPClient(&http.Client{}), client.WithUserAgent("agentgate-demo/"+app.Version),
		client.WithRetry(3, 200*time.Millisecond, 2*time.Second))
	if err != nil {
		return err
	}

	// 1 and 2: policies decide at once.
	if err := d.step(ctx, 1, "The agent wants to read a report", client.RequestInput{
		Action: "demo.read_report", Params: map[string]any{"report": "q3-revenue"},
	}, "the agent reads the report.", "the agent does not read the report."); err != nil {
		return err
	}
	if err := d.step(ctx, 2, "The agent wants to delete the production database", client.RequestInput{
		Action: "demo.delete_production", Params: map[string]any{"database": "orders"}, Urgency: client.UrgencyCritical,
	}, "the agent deletes it (a policy should have stopped this!).", "the agent stops: nothing is deleted."); err != nil {
		return err
	}

	// 3: a person decides.
	d.printf("%s The agent wants to deploy checkout 1.4.2 to production\n", d.p.bold("3 ·"))
	r, err := d.agent.Request(ctx, client.RequestInput{
		Action:  "demo.deploy",
		Params:  map[string]any{"service": "checkout", "version": "1.4.2", "env": "production"},
		Context: map[string]any{"why": "fixes the checkout timeout", "ticket": "OPS-1234"},
		Urgency: client.UrgencyHigh,
	})
	if err != nil {
		return a.explain(err)
	}
	if r.Status.Final() {
		d.printf("    %s (another policy decided first)\n\n", outcomeLine(r, d.p))
		return d.done(pol)
	}
	d.printf("    This one needs you. Decide in the dashboard:\n")
	d.printf("      %s\n", d.p.cyan(a.baseURL()+"/requests/"+r.ID))
	d.printf("    or in another terminal:\n")
	d.printf("      %s\n", d.p.bold(fmt.Sprintf("agentgate approve %s --reason \"ship it\"", r.ID)))
	d.printf("      agentgate deny %s --reason \"not on a Friday\"\n", r.ID)
	if d.noWait {
		d.printf("    (--no-wait: the request stays pending; `agentgate wait %s` waits for it)\n\n", r.ID)
		return d.done(pol)
	}
	wctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	errw := d.cmd.ErrOrStderr()
	if !a.spinnerOn(errw) {
		d.printf("    The agent is waiting for your decision (up to %s)...\n", humanDuration(d.timeout))
	}
	spin := startSpinner(errw, a.spinnerOn(errw), palette{on: a.colorOn(errw)}, "the agent is waiting for your decision")
	w, err := d.agent.Wait(wctx, r.ID)
	spin.Stop()
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: codeInterrupted, msg: fmt.Sprintf("interrupted: %s is still pending", r.ID)}
		}
		if wctx.Err() != nil {
			return &exitError{code: codeExpired, msg: fmt.Sprintf("no decision within %s: %s is still pending; decide it later, or rerun with a longer --timeout", humanDuration(d.timeout), r.ID)}
		}
		return a.explainID(err, r.ID)
	}
	d.printf("    %s%s\n", outcomeLine(w, d.p), d.p.grey(" · after "+shortDuration(w.DecidedAt.Sub(w.CreatedAt))))
	d.receives(w)
	switch w.Status {
	case client.StatusApproved:
		d.printf("    → the agent deploys.\n\n")
	default:
		d.printf("    → the agent does not deploy, and can tell its user why.\n\n")
	}
	return d.done(pol)
}

// upsertPolicy creates the demo policy, or resets it to its definition.
func (d *demo) upsertPolicy(ctx context.Context) (*client.Policy, string, error) {
	in := demoPolicy()
	for offset := 0; ; {
		pg, err := d.admin.ListPolicies(ctx, client.PageOptions{Limit: 100, Offset: offset})
		if err != nil {
			return nil, "", err
		}
		for _, p := range pg.Policies {
			if p.Name == demoPolicyName {
				up, err := d.admin.UpdatePolicy(ctx, p.ID, in)
				return up, "updated", err
			}
		}
		if !pg.Page.HasMore || len(pg.Policies) == 0 {
			break
		}
		offset += len(pg.Policies)
	}
	p, err := d.admin.CreatePolicy(ctx, in)
	return p, "created", err
}

// step makes one request that a policy decides at once.
func (d *demo) step(ctx context.Context, n int, title string, in client.RequestInput, ifApproved, ifNot string) error {
	d.printf("%s %s\n", d.p.bold(fmt.Sprintf("%d ·", n)), title)
	params, _ := json.Marshal(in.Params)
	d.printf("    %s\n", d.p.grey(fmt.Sprintf("agentgate request %s --params '%s'", in.Action, params)))
	start := time.Now()
	r, err := d.agent.Request(ctx, in)
	if err != nil {
		return d.a.explain(err)
	}
	took := time.Since(start)
	switch {
	case r.Status.Final():
		d.printf("    %s%s\n", outcomeLine(r, d.p), d.p.grey(fmt.Sprintf(" · in %dms", took.Milliseconds())))
	default:
		d.printf("    %s: no policy decided it (another policy came first?)\n", d.p.yellow("pending"))
	}
	d.receives(r)
	if r.Approved() {
		d.printf("    → %s\n\n", ifApproved)
	} else {
		d.printf("    → %s\n\n", ifNot)
	}
	return nil
}

// receives shows the part of the answer an agent acts on.
func (d *demo) receives(r *client.Request) {
	d.printf("    The agent receives  %s\n", d.p.grey("status: "+string(r.Status)))
	d.printf("                        %s\n", d.p.grey("decidedBy: "+r.DecidedBy))
	if r.DecisionReason != "" {
		d.printf("                        %s\n", d.p.grey("decisionReason: "+r.DecisionReason))
	}
}

func (d *demo) done(pol *client.Policy) error {
	d.printf("%s The demo agent key is revoked; the policy %q stays (it applies to the demo agent only).\n", d.p.bold("Done."), pol.Name)
	d.printf("Next: %s · %s · %s · %s\n", "agentgate list", "agentgate tail", "agentgate audit", "agentgate run --action deploy -- ./deploy.sh")
	return nil
}
