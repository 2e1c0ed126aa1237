package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
)

var allScopes = []string{string(client.ScopeAdmin), string(client.ScopeRequestCreate), string(client.ScopeRequestRead),
	string(client.ScopeRequestDecide), string(client.ScopeWebhookManage)}

func (a *cliApp) keysCmd() *cobra.Command {
	var (
		name      string
		scopes    []string
		rateLimit int
	)
	create := &cobra.Command{
		Use:   "create --name NAME --scope SCOPE...",
		Short: "Create an API key (shown once)",
		Long: `Create an API key. The key is printed once: store it now. Scopes:
  admin           everything (implies the others)
  request:create  ask for approvals (agents)
  request:read    read requests, wait, stream events, read the audit trail
  request:decide  approve and deny (people, bots)
  webhook:manage  manage webhook subscriptions
--quiet prints the key alone, for scripts.`,
		Example: `  agentgate keys create --name billing-agent --scope request:create,request:read
  agentgate keys create --name alice --scope request:read --scope request:decide --rate-limit 120
  export AGENTGATE_API_KEY=$(agentgate keys create --name ci --scope request:create,request:read -q)`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(name) == "" {
				return usageErrorf(cmd, "--name is required")
			}
			sc := splitList(scopes)
			if len(sc) == 0 {
				return usageErrorf(cmd, "--scope is required: one or more of %s", strings.Join(allScopes, ", "))
			}
			in := client.KeyInput{Name: name}
			for _, s := range sc {
				if !slices.Contains(allScopes, s) {
					return usageErrorf(cmd, "unknown scope %q: want %s", s, strings.Join(allScopes, ", "))
				}
				in.Scopes = append(in.Scopes, client.Scope(s))
			}
			if cmd.Flags().Changed("rate-limit") {
				if rateLimit < 1 {
					return usageErrorf(cmd, "--rate-limit must be at least 1 request per minute")
				}
				in.RateLimit = &rateLimit
			}
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			k, err := c.CreateKey(cmd.Context(), in)
			if err != nil {
				return a.explain(err)
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				return printJSON(out, a.rec.last())
			case a.quiet:
				fmt.Fprintln(out, k.Secret)
				return nil
			}
			p := palette{on: a.colorOn(out)}
			fmt.Fprintf(out, "Created API key %q (%s) with scopes %s.\n", k.Name, k.ID, joinScopes(k.Scopes))
			fmt.Fprintf(out, "It is shown only now: save it.\n\n  %s\n\n", p.bold(k.Secret))
			fmt.Fprintf(out, "  export AGENTGATE_API_KEY=%s\n", k.Secret)
			return nil
		},
	}
	create.Flags().StringVarP(&name, "name", "n", "", "a name to recognise the key by (required)")
	create.Flags().StringSliceVarP(&scopes, "scope", "s", nil, "scopes, comma-separated or repeated (required): "+strings.Join(allScopes, ", "))
	create.Flags().IntVar(&rateLimit, "rate-limit", 0, "requests per minute (default: unlimited)")
	_ = create.RegisterFlagCompletionFunc("scope", cobra.FixedCompletions(allScopes, cobra.ShellCompDirectiveNoFileComp))

	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Example: `  agentgate keys list
  agentgate keys list --all --json | jq '.[] | select(.active | not) | .name'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			keys, err := c.ListKeys(cmd.Context())
			if err != nil {
				return a.explain(err)
			}
			if !all {
				keys = slices.DeleteFunc(keys, func(k *client.Key) bool { return !k.Active })
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				return printPages(a, out, "keys", keys, func(k *client.Key) string { return k.ID })
			case a.quiet:
				for _, k := range keys {
					fmt.Fprintln(out, k.ID)
				}
				return nil
			}
			p := palette{on: a.colorOn(out)}
			now := a.now()
			t := newTable(out, p, "ID", "NAME", "PREFIX", "SCOPES", "RATE/MIN", "LAST USED", "CREATED", "STATUS")
			t.color(7, func(s string) string {
				if s == "active" {
					return sgrGreen
				}
				return sgrGrey
			})
			for _, k := range keys {
				rate := "-"
				if k.RateLimit != nil {
					rate = strconv.Itoa(*k.RateLimit)
				}
				status := "active"
				if !k.Active {
					status = "revoked " + relTime(k.RevokedAt, now)
				}
				last := "never"
				if !k.LastUsedAt.IsZero() {
					last = relTime(k.LastUsedAt, now)
				}
				t.add(k.ID, truncate(k.Name, 30), k.Prefix+"…", joinScopes(k.Scopes), rate, last, relTime(k.CreatedAt, now), status)
			}
			return t.flush()
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include revoked keys")

	revoke := &cobra.Command{
		Use:   "revoke ID...",
		Short: "Revoke API keys at once",
		Long: `Revoke API keys: they stop working at once, on every server replica.
Revoking a revoked key succeeds; the last active admin key cannot be revoked.`,
		Example: `  agentgate keys revoke key_0199d2c4-...`,
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, id := range args {
				if err := c.RevokeKey(cmd.Context(), id); err != nil {
					if errors.Is(err, client.ErrNotFound) {
						return &exitError{code: codeError, msg: fmt.Sprintf("key %s not found (list them with `agentgate keys list`)", id)}
					}
					return a.explain(err)
				}
				if a.quiet {
					fmt.Fprintln(out, id)
				} else if !a.jsonOut {
					fmt.Fprintf(out, "Revoked %s\n", id)
				}
			}
			if a.jsonOut {
				return printValue(out, map[string]any{"revoked": args})
			}
			return nil
		},
	}
	return groupCmd("keys", "Create, list and revoke API keys (admin)",
		"Create, list and revoke API keys. These commands need an admin key.", create, list, revoke)
}

func joinScopes(sc []client.Scope) string {
	s := make([]string, len(sc))
	for i, v := range sc {
		s[i] = string(v)
	}
	return strings.Join(s, ",")
}
