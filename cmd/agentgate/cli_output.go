package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// isTerminal reports whether w is a terminal. golang.org/x/term is not in
// the module graph, so this checks for a character device, excluding
// /dev/null (also a character device, and the usual target of `>/dev/null`).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
}

// colorOn reports whether to colour output written to w: only on a
// terminal, and never with --no-color, NO_COLOR (any non-empty value, see
// no-color.org) or TERM=dumb.
func (a *cliApp) colorOn(w io.Writer) bool {
	return !a.noColor && a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb" && isTerminal(w)
}

// palette colours text when enabled. Every colour is a two-digit SGR code,
// so coloured cells of a table column all carry the same number of
// invisible bytes and text/tabwriter still aligns them.
type palette struct{ on bool }

const (
	sgrDefault = "39"
	sgrRed     = "31"
	sgrGreen   = "32"
	sgrYellow  = "33"
	sgrCyan    = "36"
	sgrGrey    = "90"
)

func (p palette) paint(sgr, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + sgr + "m" + s + "\x1b[0m"
}

func (p palette) red(s string) string    { return p.paint(sgrRed, s) }
func (p palette) green(s string) string  { return p.paint(sgrGreen, s) }
func (p palette) yellow(s string) string { return p.paint(sgrYellow, s) }
func (p palette) cyan(s string) string   { return p.paint(sgrCyan, s) }
func (p palette) grey(s string) string   { return p.paint(sgrGrey, s) }
func (p palette) bold(s string) string {
	if !p.on {
		return s
	}
	return "\x1b[1m" + s + "\x1b[0m"
}

// statusSGR is the colour of a request status.
func statusSGR(status string) string {
	switch status {
	case "approved":
		return sgrGreen
	case "denied":
		return sgrRed
	case "expired":
		return sgrGrey
	case "pending":
		return sgrYellow
	}
	return sgrDefault
}

// table prints aligned columns with text/tabwriter. Columns given a colour
// function are painted cell by cell (the header in the default colour, so
// that every cell of the column has the same invisible overhead).
type table struct {
	w      io.Writer
	p      palette
	header []string
	colors map[int]func(string) string // column -> SGR code for a value
	rows   [][]string
}

func newTable(w io.Writer, p palette, header ...string) *table {
	return &table{w: w, p: p, header: header, colors: map[int]func(string) string{}}
}

func (t *table) color(col int, f func(string) string) { t.colors[col] = f }
func (t *table) add(cells ...string)                  { t.rows = append(t.rows, cells) }

func (t *table) flush() error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	line := func(cells []string, header bool) {
		out := make([]string, len(cells))
		for i, c := range cells {
			c = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
			if f, ok := t.colors[i]; ok && t.p.on {
				sgr := sgrDefault
				if !header {
					sgr = f(c)
				}
				c = t.p.paint(sgr, c)
			}
			out[i] = c
		}
		fmt.Fprintln(tw, strings.Join(out, "\t"))
	}
	if t.header != nil {
		line(t.header, true)
	}
	for _, r := range t.rows {
		line(r, false)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// tabwriter pads cells before an empty last one: trim line ends.
	var out bytes.Buffer
	for l := range strings.Lines(buf.String()) {
		out.WriteString(strings.TrimRight(l, " \n"))
		out.WriteByte('\n')
	}
	_, err := t.w.Write(out.Bytes())
	return err
}

// relTime says when t is relative to now: "just now", "3m ago", "in 12m".
func relTime(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 2*time.Second:
		if future {
			return "now"
		}
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	case d < 60*24*time.Hour:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	default:
		return t.Local().Format("2006-01-02")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// shortDuration prints d as "4s", "1m05s", "2h03m".
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	default:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
}

// humanDuration prints a configured duration without zero units: "30m",
// "1h30m", "45s".
func humanDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// printJSON writes raw JSON indented, exactly as received otherwise
// (numbers and key order untouched).
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// printJSONArray writes raw JSON values as one indented array.
func printJSONArray(w io.Writer, items []json.RawMessage) error {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(bytes.TrimSpace(it))
	}
	b.WriteByte(']')
	return printJSON(w, b.Bytes())
}

// printValue writes v (a value the CLI built itself) as indented JSON.
func printValue(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return printJSON(w, b.Bytes())
}

// plural returns "1 policy", "2 policies".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// field extracts one member of a JSON object (e.g. "requests" of a list
// envelope) as a list of raw values.
func field(raw []byte, name string) ([]json.RawMessage, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("the server's answer is not a JSON object: %w", err)
	}
	var items []json.RawMessage
	if v, ok := env[name]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, fmt.Errorf("the server's %q is not a list: %w", name, err)
		}
	}
	return items, nil
}

// spinner shows a waiting message with the elapsed time on a terminal,
// redrawing one line of w until stopped. Off a terminal it prints nothing.
type spinner struct {
	w     io.Writer
	p     palette
	start time.Time
	stop  chan struct{}
	done  chan struct{}
	msg   string
}

const spinnerFrames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

// startSpinner starts a spinner on w when enabled; a disabled spinner's
// methods do nothing.
func startSpinner(w io.Writer, enabled bool, p palette, msg string) *spinner {
	s := &spinner{w: w, p: p, msg: msg, start: time.Now()}
	if !enabled {
		return s
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.run()
	return s
}

func (s *spinner) run() {
	defer close(s.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	frames := []rune(spinnerFrames)
	for i := 0; ; i++ {
		fmt.Fprintf(s.w, "\r%s %s %s\x1b[K", s.p.cyan(string(frames[i%len(frames)])), s.msg,
			s.p.grey("· "+shortDuration(time.Since(s.start))))
		select {
		case <-s.stop:
			fmt.Fprint(s.w, "\r\x1b[K")
			return
		case <-t.C:
		}
	}
}

// Stop clears the spinner's line. Safe to call twice.
func (s *spinner) Stop() {
	if s.stop == nil {
		return
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}
