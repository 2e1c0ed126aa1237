package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/store"
)

func newBackupCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write a consistent copy of the SQLite database (online)",
		Long: `Write a consistent copy of the SQLite database to a new file, while the
server keeps running (VACUUM INTO, in a read transaction). Restore by
stopping the server and putting the copy in place of DATABASE_URL's file.

PostgreSQL deployments are backed up with pg_dump; see docs/deployment.md.`,
		Example: `  agentgate backup --output /backups/agentgate-$(date +%F).db`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return &exitError{code: 2, msg: "--output is required"}
			}
			cfg, err := config.Load()
			if err != nil {
				return err
			}
			if store.IsPostgresURL(cfg.DatabaseURL) {
				return fmt.Errorf("DATABASE_URL is PostgreSQL: back it up with pg_dump (see docs/deployment.md)")
			}
			st, err := store.Open(cmd.Context(), cfg.DatabaseURL, store.Options{})
			if err != nil {
				return err
			}
			defer st.Close()
			start := time.Now()
			if err := st.Backup(cmd.Context(), output); err != nil {
				return err
			}
			fi, err := os.Stat(output)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up %s to %s (%d bytes) in %v\n", st.Path(), output, fi.Size(), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (must not exist)")
	return cmd
}

func newHealthCmd() *cobra.Command {
	var url string
	var deep bool
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that a server answers /health (exit 0) or not (exit 1)",
		Long: `Check a server's /health endpoint; for container health checks in images
without a shell or curl.`,
		Example: `  agentgate health
  agentgate health --url http://agentgate:3000 --deep`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" {
				cfg, err := config.Load()
				if err != nil {
					return err
				}
				url = fmt.Sprintf("http://127.0.0.1:%d", cfg.Port)
			}
			u := url + "/health"
			if deep {
				u += "?deep=true"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("cannot reach AgentGate at %s: %w", url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %d", u, resp.StatusCode)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "server URL (default: http://127.0.0.1:$PORT)")
	cmd.Flags().BoolVar(&deep, "deep", false, "also check the database")
	return cmd
}
