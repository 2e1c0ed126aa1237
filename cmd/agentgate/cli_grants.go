package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
)

func (a *cliApp) grantsCmd() *cobra.Command {
	var (
		agent, action string
		active        bool
		limit         int
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List time-boxed grants",
		Long: `List grants: approvals that also approve the same agent's next requests
for the same action for a while (created with 'agentgate approve --grant').`,
		Example: `  agentgate grants list --active
  agentgate grants list --action deploy.staging --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			gs, err := c.ListGrants(cmd.Context(), client.GrantListOptions{AgentID: agent, Action: action, ActiveOnly: active, Limit: limit})
			if err != nil {
				return a.explain(err)
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				return printJSON(out, a.rec.last())
			case a.quiet:
				for _, g := range gs {
					fmt.Fprintln(out, g.ID)
				}
				return nil
			}
			if len(gs) == 0 {
				fmt.Fprintln(out, "No grants.")
				return nil
			}
			p := palette{on: a.colorOn(out)}
			t := newTable(out, p, "ID", "ACTION", "AGENT", "USES", "EXPIRES", "BY", "STATE")
			for _, g := range gs {
				uses := strconv.Itoa(g.Uses)
				if g.MaxUses != nil {
					uses += "/" + strconv.Itoa(*g.MaxUses)
				}
				state := "active"
				switch {
				case g.RevokedAt != nil:
					state = "revoked"
				case !g.Active:
					state = "used up or expired"
				}
				t.add(g.ID, g.Action, g.AgentID, uses, relTime(g.ExpiresAt, a.now()), g.CreatedBy, state)
			}
			return t.flush()
		},
	}
	list.Flags().StringVar(&agent, "agent", "", "only grants for this agent key id")
	list.Flags().StringVar(&action, "action", "", "only grants for this action")
	list.Flags().BoolVar(&active, "active", false, "only grants that can still approve")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (1-100)")

	revoke := &cobra.Command{
		Use:     "revoke ID...",
		Short:   "Revoke grants at once",
		Example: `  agentgate grants revoke grt_0199...`,
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			for _, id := range args {
				if _, err := c.RevokeGrant(cmd.Context(), id); err != nil {
					return a.explainID(err, id)
				}
				if !a.quiet {
					fmt.Fprintf(cmd.OutOrStdout(), "Revoked grant %s\n", id)
				}
			}
			return nil
		},
	}
	return groupCmd("grants", "List and revoke time-boxed grants", "Grants approve an agent's repeated requests for a while.", list, revoke)
}

func (a *cliApp) groupsCmd() *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Short:   "List approver groups",
		Example: "  agentgate groups list\n  agentgate groups list --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			gs, err := c.ListGroups(cmd.Context())
			if err != nil {
				return a.explain(err)
			}
			out := cmd.OutOrStdout()
			if a.jsonOut {
				return printJSON(out, a.rec.last())
			}
			if len(gs) == 0 && !a.quiet {
				fmt.Fprintln(out, "No groups.")
				return nil
			}
			t := newTable(out, palette{on: a.colorOn(out)}, "NAME", "MEMBERS", "SOURCE")
			for _, g := range gs {
				if a.quiet {
					fmt.Fprintln(out, g.Name)
					continue
				}
				t.add(g.Name, strings.Join(g.Members, ", "), g.Source)
			}
			if a.quiet {
				return nil
			}
			return t.flush()
		},
	}
	set := &cobra.Command{
		Use:   "set NAME MEMBER...",
		Short: "Create or replace an approver group",
		Long: `Create or replace an approver group. Members are identities: API key
names or ids, slack:U…, discord:…, email:…. Rules name the group as
"group:NAME" in approvers or approvals.from.`,
		Example: `  agentgate groups set finance alice bob slack:U024BE7LH`,
		Args:    usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			g, err := c.SaveGroup(cmd.Context(), args[0], args[1:])
			if err != nil {
				return a.explain(err)
			}
			if !a.quiet {
				fmt.Fprintf(cmd.OutOrStdout(), "Group %s: %s\n", g.Name, strings.Join(g.Members, ", "))
			}
			return nil
		},
	}
	del := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Delete an approver group",
		Example: "  agentgate groups delete finance",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteGroup(cmd.Context(), args[0]); err != nil {
				return a.explain(err)
			}
			if !a.quiet {
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted group %s\n", args[0])
			}
			return nil
		},
	}
	return groupCmd("groups", "Manage approver groups (admin)", "Approver groups name sets of people that rules refer to as group:NAME.", list, set, del)
}
