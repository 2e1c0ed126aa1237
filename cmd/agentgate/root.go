package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "agentgate",
		Short: "Human-in-the-loop approval gateway for AI agents",
		Long: `AgentGate puts a human between AI agents and the actions they take.

Agents ask before they act; policies auto-approve what is safe, auto-deny
what is forbidden and route the rest to people, who decide in the dashboard,
Slack, Discord, email or this CLI. Every step lands in an audit trail.

Start a server on an embedded SQLite database:

  agentgate server

Then, with the admin key it prints:

  export AGENTGATE_API_KEY=agk_...
  agentgate request deploy --params '{"env":"prod"}' --wait`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCmd(), newMigrateCmd(), newBootstrapCmd(), newBackupCmd(), newHealthCmd(), newVersionCmd(), newMCPCmd())
	addClientCommands(root) // request, run, list, approve, ... (cli.go)
	return root
}
