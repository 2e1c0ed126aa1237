package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/client"
	"github.com/agentgate/agentgate/internal/approval"
)

func (a *cliApp) auditCmd() *cobra.Command {
	var (
		requestID, eventType string
		limit                int
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit trail; verify and export it",
		Long: `Show the audit trail, newest first: who asked for what, which policy or
person decided, keys and policies changed. With --request, one request's
whole story, oldest first.

The trail is a hash chain: ` + "`agentgate audit verify`" + ` asks the server to check it,
` + "`agentgate audit export`" + ` downloads it as JSON Lines and
` + "`agentgate audit verify -f FILE`" + ` checks such a file offline.`,
		Example: `  agentgate audit --limit 50
  agentgate audit --request req_0199d2c4-...
  agentgate audit --type denied --json | jq '.[].actor'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 100 {
				return usageErrorf(cmd, "--limit must be between 1 and 100")
			}
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			var evs []*client.AuditEvent
			if requestID != "" {
				evs, err = c.Audit(cmd.Context(), requestID)
				if err != nil {
					return a.explainID(err, requestID)
				}
			} else {
				pg, err := c.ListAudit(cmd.Context(), client.AuditOptions{EventType: eventType, Limit: limit})
				if err != nil {
					return a.explain(err)
				}
				evs = pg.Entries
			}
			out := cmd.OutOrStdout()
			switch {
			case a.jsonOut:
				if requestID != "" {
					return printJSON(out, a.rec.last()) // already an array
				}
				return printPages(a, out, "entries", evs, func(e *client.AuditEvent) string { return e.ID })
			case a.quiet:
				for _, e := range evs {
					fmt.Fprintln(out, e.ID)
				}
				return nil
			}
			if len(evs) == 0 {
				fmt.Fprintln(out, "No audit events.")
				return nil
			}
			pal := palette{on: a.colorOn(out)}
			t := newTable(out, pal, "TIME", "EVENT", "REQUEST", "ACTOR", "DETAILS")
			t.color(1, func(s string) string { return statusSGR(s) })
			for _, e := range evs {
				actor := e.Actor
				if e.ActorType != "" {
					actor += " (" + string(e.ActorType) + ")"
				}
				req := e.RequestID
				if e.Request != nil && e.Request.Action != "" {
					req += " " + e.Request.Action
				}
				if req == "" {
					req = "-"
				}
				t.add(e.CreatedAt.Local().Format("2006-01-02 15:04:05"), e.EventType, req, truncate(actor, 30), truncate(compactJSON(e.Details), 80))
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVar(&requestID, "request", "", "one request's trail, oldest first")
	cmd.Flags().StringVar(&eventType, "type", "", "only this event type: created, approved, denied, expired, key.created, ...")
	cmd.Flags().IntVarP(&limit, "limit", "l", 20, "events to show (1 to 100)")
	cmd.AddCommand(a.auditVerifyCmd(), a.auditExportCmd())
	return cmd
}

func (a *cliApp) auditVerifyCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "verify [-f FILE]",
		Short: "Check the audit trail's hash chain (on the server, or an export offline)",
		Long: `Check that no audit event was modified, deleted or reordered. Without -f
the server walks its chain (request:read scope). With -f FILE the CLI
checks a JSON Lines export (` + "`agentgate audit export`" + `) offline, with no
server: every line's hash, its link to the previous line, and the
sequence. The exit status is 0 when the chain is whole, 1 with the first
break printed.

An export holds the events sealed when it was made; events removed from
its end cannot be told from a shorter export: compare its last seq with
the server's headSeq (` + "`agentgate audit verify`" + `).`,
		Example: `  agentgate audit verify
  agentgate audit export -o audit.jsonl && agentgate audit verify -f audit.jsonl`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			pal := palette{on: a.colorOn(out)}
			if file != "" {
				return a.verifyFile(cmd, out, pal, file)
			}
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			a.rec.reset()
			rep, err := c.VerifyAudit(cmd.Context())
			if err != nil {
				return a.explain(err)
			}
			switch {
			case a.jsonOut:
				if err := printJSON(out, a.rec.last()); err != nil {
					return err
				}
			case a.quiet:
			case rep.OK:
				fmt.Fprintf(out, "%s audit chain intact: %d events checked, head seq %d (%s…)", pal.green("✔"), rep.Checked, rep.HeadSeq, short(rep.HeadHash))
				if rep.Unsealed > 0 {
					fmt.Fprintf(out, "; %d newer events not sealed yet", rep.Unsealed)
				}
				fmt.Fprintln(out)
			}
			if rep.OK {
				return nil
			}
			msg := "audit chain broken"
			if p := rep.Problem; p != nil {
				msg = fmt.Sprintf("audit chain broken at seq %d", p.Seq)
				if p.EventID != "" {
					msg += " (event " + p.EventID + ")"
				}
				msg += ": " + p.Reason
			}
			return &exitError{code: codeError, msg: msg}
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "verify this JSON Lines export offline (- for standard input)")
	return cmd
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// verifyFile checks an export offline with the server's own verifier.
func (a *cliApp) verifyFile(cmd *cobra.Command, out io.Writer, pal palette, file string) error {
	var r io.Reader
	if file == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(file)
		if err != nil {
			return &exitError{code: codeError, msg: err.Error()}
		}
		defer f.Close()
		r = f
	}
	v := approval.NewChainVerifier()
	br := bufio.NewReaderSize(r, 1<<20)
	var (
		lineNo  int
		lastSeq int64
	)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			lineNo++
			var l approval.ExportLine
			if jerr := json.Unmarshal(line, &l); jerr != nil {
				return &exitError{code: codeError, msg: fmt.Sprintf("%s:%d: not an audit export line: %v", file, lineNo, jerr)}
			}
			ev, eerr := l.Event()
			if eerr != nil {
				return &exitError{code: codeError, msg: fmt.Sprintf("%s:%d: %v", file, lineNo, eerr)}
			}
			v.Add(ev)
			if v.Problem != nil {
				break
			}
			lastSeq = ev.Seq
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &exitError{code: codeError, msg: fmt.Sprintf("read %s: %v", file, err)}
		}
	}
	seq, head := v.Head()
	report := map[string]any{"file": file, "ok": v.Problem == nil, "checked": v.Checked, "headSeq": seq, "headHash": head}
	if p := v.Problem; p != nil {
		pr := map[string]any{"seq": p.Seq, "reason": p.Reason, "line": lineNo}
		if p.EventID != 0 {
			pr["eventId"] = strconv.FormatInt(p.EventID, 10)
		}
		report["problem"] = pr
	}
	switch {
	case a.jsonOut:
		if err := printValue(out, report); err != nil {
			return err
		}
	case a.quiet:
	case v.Problem == nil && lineNo == 0:
		return &exitError{code: codeError, msg: file + " holds no audit events"}
	case v.Problem == nil:
		fmt.Fprintf(out, "%s %s: chain intact, %d events, seq 1 to %d, head %s…\n", pal.green("✔"), file, v.Checked, lastSeq, short(head))
	}
	if p := v.Problem; p != nil {
		msg := fmt.Sprintf("%s:%d: audit chain broken at seq %d", file, lineNo, p.Seq)
		if p.EventID != 0 {
			msg += fmt.Sprintf(" (event %d)", p.EventID)
		}
		return &exitError{code: codeError, msg: msg + ": " + p.Reason}
	}
	return nil
}

func (a *cliApp) auditExportCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [-o FILE]",
		Short: "Download the sealed audit trail as JSON Lines (admin)",
		Long: `Download every sealed audit event as JSON Lines, in chain order, to
standard output or FILE (created with mode 0600). The file verifies
offline with ` + "`agentgate audit verify -f FILE`" + `. Needs an admin key.`,
		Example: `  agentgate audit export -o audit-$(date +%F).jsonl
  agentgate audit export | gzip > audit.jsonl.gz`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api(cmd)
			if err != nil {
				return err
			}
			var w io.Writer = cmd.OutOrStdout()
			var f *os.File
			if output != "" && output != "-" {
				f, err = os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return &exitError{code: codeError, msg: err.Error()}
				}
				w = f
			}
			lc := &lineCounter{w: w}
			_, err = c.ExportAudit(cmd.Context(), lc)
			if f != nil {
				if cerr := f.Close(); err == nil && cerr != nil {
					err = cerr
				}
			}
			if err != nil {
				return a.explain(err)
			}
			if f != nil && !a.quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "Exported %d audit events to %s; check it with `agentgate audit verify -f %s`\n", lc.lines, output, output)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	return cmd
}

// lineCounter counts the lines written through it.
type lineCounter struct {
	w     io.Writer
	lines int
}

func (l *lineCounter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	l.lines += bytes.Count(p[:n], []byte{'\n'})
	return n, err
}
