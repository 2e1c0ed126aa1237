package main

import (
	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/config"
)

func newServerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "server",
		Short: "Run the AgentGate server (API, dashboard, background jobs)",
		Long: `Run the AgentGate server.

All settings come from environment variables (see the README). With no
DATABASE_URL the server keeps its data in ./data/agentgate.db (SQLite);
with DATABASE_URL=postgres://... it uses PostgreSQL. Migrations run at start.

On the first start of an empty database (and without ADMIN_API_KEY) the
server creates an admin API key and prints it once.`,
		Example: `  agentgate server
  PORT=8080 DATABASE_URL=postgres://agentgate@localhost/agentgate agentgate server`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load()
			if err != nil {
				return err
			}
			return app.Run(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
}
