package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
)

// splitList flattens repeated and comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (a *cliApp) tailCmd() *cobra.Command {
	var (
		statuses, actions, requests []string
		lastID                      string
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Stream request events live (created, decided, expired)",
		Long: `Print request events as they happen, one line each, until Ctrl-C. The
stream comes from the server's Server-Sent Events endpoint; it reconnects
by itself and replays what it missed. Filters take comma lists or repeat.
--json prints each event as one JSON object per line (JSON Lines);
--quiet prints the request id of each event.`,
		Example: `  agentgate tail
  agentgate tail --status pending --action deploy,rollback
  agentgate tail --request req_0199d2c4-... --json | jq -r .request.status`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.EventsOptions{Action: splitList(actions), RequestID: splitList(requests), LastEventID: lastID}
			for _, s := range splitList(statuses) {
				switch st := client.Status(strings.ToLower(s)); st {
				case client.StatusPending, client.StatusApproved, client.StatusDenied, client.StatusExpired:
					opts.Status = append(opts.Status, st)
				default:
					return usageErrorf(cmd, "--status %q: want pending, approved, denied or expired", s)
				}
			}
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			// The stream reconnects quietly forever; check the server and
			// the key first so that a typo fails at once.
			if _, err := c.Me(cmd.Context()); err != nil {
				return a.explain(err)
			}
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			p := palette{on: a.colorOn(out)}
			if isTerminal(errw) && !a.quiet && !a.jsonOut {
				fmt.Fprintf(errw, "Streaming events from %s (Ctrl-C to stop)\n", a.baseURL())
			}
			for ev, err := range c.Events(cmd.Context(), opts) {
				if err != nil {
					return a.explain(err)
				}
				if err := a.printEvent(out, p, ev); err != nil {
					return err
				}
			}
			return nil // Ctrl-C ends the stream: not an error
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&statuses, "status", "s", nil, "only events leaving requests in these statuses")
	f.StringSliceVarP(&actions, "action", "a", nil, "only these actions")
	f.StringSliceVar(&requests, "request", nil, "only these request ids")
	f.StringVar(&lastID, "last-event-id", "", "first replay the events after this event id")
	return cmd
}

// printEvent prints one event line.
func (a *cliApp) printEvent(w io.Writer, p palette, ev *client.Event) error {
	switch {
	case a.jsonOut:
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case a.quiet:
		_, err := fmt.Fprintln(w, ev.Request.ID)
		return err
	}
	r := ev.Request
	at := r.UpdatedAt
	if at.IsZero() {
		at = a.now()
	}
	kind := strings.TrimPrefix(ev.Type, "request.")
	var what string
	switch {
	case r.Status.Final():
		what = outcomeLine(r, p)
	default:
		what = p.yellow("pending")
		if r.Agent.Name != "" {
			what += " · from " + r.Agent.Name
		}
		what += " · urgency " + string(r.Urgency)
		if r.PolicyDecision.Reason != "" {
			what += p.grey(" · " + r.PolicyDecision.Reason)
		}
	}
	_, err := fmt.Fprintf(w, "%s  %-8s  %s  %s  %s\n", p.grey(at.Local().Format("15:04:05")), kind, r.ID, p.bold(r.Action), what)
	return err
}
