package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
)

var webhookEvents = []string{client.WebhookAllEvents, client.WebhookRequestCreated, client.WebhookRequestDecided,
	client.WebhookRequestApproved, client.WebhookRequestDenied, client.WebhookRequestExpired, "request.escalated"}

func (a *cliApp) webhooksCmd() *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Short:   "List webhook subscriptions",
		Example: "  agentgate webhooks list",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			hooks, err := c.ListWebhooks(cmd.Context())
			if err != nil {
				return a.explainWebhook(err, "")
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				return printPages(a, out, "webhooks", hooks, func(h *client.Webhook) string { return h.ID })
			case a.quiet:
				for _, h := range hooks {
					fmt.Fprintln(out, h.ID)
				}
				return nil
			}
			if len(hooks) == 0 {
				fmt.Fprintln(out, "No webhooks. Add one with `agentgate webhooks create --url URL`.")
				return nil
			}
			t := newTable(out, palette{on: a.colorOn(out)}, "ID", "URL", "EVENTS", "ENABLED", "CREATED")
			t.color(3, func(s string) string {
				if s == "yes" {
					return sgrGreen
				}
				return sgrGrey
			})
			for _, h := range hooks {
				enabled := "no"
				if h.Enabled {
					enabled = "yes"
				}
				t.add(h.ID, truncate(h.URL, 60), strings.Join(h.Events, ","), enabled, relTime(h.CreatedAt, a.now()))
			}
			return t.flush()
		},
	}

	var (
		url, secret string
		events      []string
		disabled    bool
	)
	create := &cobra.Command{
		Use:   "create --url URL [--event EVENT...]",
		Short: "Subscribe a URL to request events (the signing secret is shown once)",
		Long: `Subscribe a URL to request events. Each delivery is a signed POST
(X-AgentGate-Signature: sha256=HMAC of the body with the secret); the
secret is generated unless --secret gives one, and printed once.
Events: ` + strings.Join(webhookEvents, ", ") + ` (default *, every event).`,
		Example: `  agentgate webhooks create --url https://hooks.example.com/agentgate
  agentgate webhooks create --url https://ops.example.com/hook --event request.created,request.expired`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" {
				return usageErrorf(cmd, "--url is required")
			}
			if err := checkURL(url); err != nil {
				return usageErrorf(cmd, "--url: %v", err)
			}
			in := client.WebhookInput{URL: url, Secret: secret, Events: splitList(events)}
			if len(in.Events) == 0 {
				in.Events = []string{client.WebhookAllEvents}
			}
			if disabled {
				in.Enabled = new(false)
			}
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			h, err := c.CreateWebhook(cmd.Context(), in)
			if err != nil {
				return a.explainWebhook(err, "")
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				return printJSON(out, a.rec.last())
			case a.quiet:
				fmt.Fprintln(out, h.ID)
				return nil
			}
			fmt.Fprintf(out, "Created webhook %s → %s (events %s).\n", h.ID, h.URL, strings.Join(h.Events, ","))
			if h.Secret != "" && secret == "" {
				fmt.Fprintf(out, "Signing secret, shown only now:\n\n  %s\n\nCheck deliveries with it (client.VerifyWebhook in Go).\n", h.Secret)
			}
			fmt.Fprintf(out, "Send a test delivery: agentgate webhooks test %s\n", h.ID)
			return nil
		},
	}
	create.Flags().StringVar(&url, "url", "", "the receiver's URL (required)")
	create.Flags().StringSliceVarP(&events, "event", "e", nil, "events to deliver, comma-separated or repeated (default *)")
	create.Flags().StringVar(&secret, "secret", "", "the signing secret (default: generated); prefer generated secrets")
	create.Flags().BoolVar(&disabled, "disabled", false, "create it disabled")
	_ = create.RegisterFlagCompletionFunc("event", cobra.FixedCompletions(webhookEvents, cobra.ShellCompDirectiveNoFileComp))

	del := &cobra.Command{
		Use:     "delete ID...",
		Short:   "Delete webhook subscriptions",
		Example: "  agentgate webhooks delete wh_0199d2c4-...",
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, id := range args {
				if err := c.DeleteWebhook(cmd.Context(), id); err != nil {
					return a.explainWebhook(err, id)
				}
				if a.quiet {
					fmt.Fprintln(out, id)
				} else if !a.jsonOut {
					fmt.Fprintf(out, "Deleted %s\n", id)
				}
			}
			if a.jsonOut {
				return printValue(out, map[string]any{"deleted": args})
			}
			return nil
		},
	}

	test := &cobra.Command{
		Use:   "test ID",
		Short: "Send a signed test delivery now and show the answer",
		Long: `Send a signed test delivery to a webhook now (no retries) and show how
the receiver answered. The exit status is 1 when the delivery failed.`,
		Example: "  agentgate webhooks test wh_0199d2c4-...",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			res, err := c.TestWebhook(cmd.Context(), args[0])
			if err != nil {
				return a.explainWebhook(err, args[0])
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				if err := printJSON(out, a.rec.last()); err != nil {
					return err
				}
			case !a.quiet:
				pal := palette{on: a.colorOn(out)}
				status := "no answer"
				if res.StatusCode != nil {
					status = fmt.Sprintf("HTTP %d", *res.StatusCode)
				}
				if res.Success {
					fmt.Fprintf(out, "%s delivered: %s in %dms\n", pal.green("✔"), status, res.DurationMs)
				} else {
					fmt.Fprintf(out, "%s failed: %s in %dms", pal.red("✘"), status, res.DurationMs)
					if res.Error != nil {
						fmt.Fprintf(out, ": %s", *res.Error)
					}
					fmt.Fprintln(out)
				}
				if res.ResponseBody != nil && *res.ResponseBody != "" {
					fmt.Fprintf(out, "  response: %s\n", truncate(strings.TrimSpace(*res.ResponseBody), 200))
				}
			}
			if !res.Success {
				return &exitError{code: codeError}
			}
			return nil
		},
	}
	return groupCmd("webhooks", "Manage webhook subscriptions (webhook:manage)",
		`Manage webhook subscriptions: URLs the server POSTs request events to,
signed with a per-webhook secret. These commands need the webhook:manage
scope (or admin).`, list, create, del, test)
}

// explainWebhook names the webhook in a not-found error, and says so
// when the server has no webhook API at all.
func (a *cliApp) explainWebhook(err error, id string) error {
	if apiErr, ok := errors.AsType[*client.APIError](err); ok && apiErr.StatusCode == 404 && strings.HasPrefix(apiErr.Message, "Route ") {
		return &exitError{code: codeError, msg: "this server has no webhook API (an older version?): " + apiErr.Message}
	}
	if id != "" && errors.Is(err, client.ErrNotFound) {
		return &exitError{code: codeError, msg: fmt.Sprintf("webhook %s not found (list them with `agentgate webhooks list`)", id)}
	}
	return a.explain(err)
}
