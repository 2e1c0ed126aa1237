package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/app"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/config"
)

func newMigrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit",
		Long: `Apply every pending database migration (the server also does this at
start). Safe to run while other replicas start: on PostgreSQL the
migration takes an advisory lock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load()
			if err != nil {
				return err
			}
			log := app.NewLogger(cfg, os.Stderr)
			st, err := app.OpenStore(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			cur, latest, err := st.MigrationStatus(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "database (%s) is at migration %d of %d\n", st.Dialect(), cur, latest)
			return nil
		},
	}
}

func newBootstrapCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create an admin API key directly in the database and print it once",
		Long: `Create an admin API key directly in the database (no running server
needed) and print it once. Use it to regain access, or to provision the
first key of a deployment from a job.`,
		Example: `  agentgate bootstrap --name ops-admin
  DATABASE_URL=postgres://... agentgate bootstrap`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load()
			if err != nil {
				return err
			}
			log := app.NewLogger(cfg, os.Stderr)
			st, err := app.OpenStore(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			svc, err := auth.NewService(st, auth.Config{}, log)
			if err != nil {
				return err
			}
			k, plain, err := svc.Bootstrap(cmd.Context(), name)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Created admin API key %q (%s). It is shown once - save it now:\n\n  %s\n\n", k.Name, k.ID, plain)
			fmt.Fprintf(out, "  export AGENTGATE_API_KEY=%s\n", plain)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "admin (bootstrap)", "name of the new key")
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "agentgate %s\n", app.Version)
		},
	}
}
