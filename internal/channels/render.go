package channels

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentgate/agentgate/internal/approval"
)

// The helpers below give every channel the same words for a request's
// state. They return plain text: each channel escapes it for its own
// markup.

// Headline is a one-line summary: what is asked, or what became of it.
func Headline(r *approval.Request) string {
	action := Truncate(r.Action, 120)
	switch r.Status {
	case approval.StatusApproved:
		return "Approved: " + action
	case approval.StatusDenied:
		return "Denied: " + action
	case approval.StatusExpired:
		return "Expired: " + action
	}
	if r.EscalationLevel > 0 {
		return "Escalated — approval needed: " + action
	}
	return "Approval needed: " + action
}

// Emoji marks a status.
func Emoji(s approval.Status) string {
	switch s {
	case approval.StatusApproved:
		return "✅"
	case approval.StatusDenied:
		return "❌"
	case approval.StatusExpired:
		return "⏰"
	}
	return "🔔"
}

// UrgencyEmoji marks an urgency.
func UrgencyEmoji(u approval.Urgency) string {
	switch u {
	case approval.UrgencyCritical:
		return "🔴"
	case approval.UrgencyHigh:
		return "🟠"
	case approval.UrgencyLow:
		return "🟢"
	}
	return "🟡"
}

// StatusLine says where the request stands: who decided and how, or the
// quorum's progress ("1 of 2 approvals: alice").
func StatusLine(m *Message) string {
	r := m.Request
	progress := ""
	if need := r.RequiredApprovals(); need > 1 {
		progress = fmt.Sprintf("%d of %d approvals", len(m.Approvals), need)
		if len(m.Approvals) > 0 {
			progress += ": " + strings.Join(m.Approvals, ", ")
		}
	}
	switch r.Status {
	case approval.StatusPending:
		line := "Waiting for a decision"
		if progress != "" {
			line = "Waiting for approvals — " + progress
		}
		if r.EscalationLevel > 0 {
			line += fmt.Sprintf(" (escalated, step %d of %d)", r.EscalationLevel, len(r.PolicyDecision.Escalate))
		}
		return line
	case approval.StatusExpired:
		return "Expired: no decision in time"
	}
	verb := "Approved"
	if r.Status == approval.StatusDenied {
		verb = "Denied"
	}
	var line string
	switch r.DecidedByType {
	case approval.ActorHuman:
		line = verb + " by " + Truncate(DeciderName(r), 100)
	case approval.ActorSystem:
		line = verb + " automatically when the request timed out"
	default:
		line = verb + " automatically by " + string(r.DecidedByType)
	}
	if progress != "" && r.Status == approval.StatusApproved {
		line += " (" + progress + ")"
	}
	if len(r.ApprovedParams) > 0 {
		line += ", with edited parameters"
	}
	return line
}

// DeciderName is the decider as people know them: the authenticated name,
// with the channel's identity when it says more ("alice (slack:U123)"),
// and the client's display label when one was sent (never instead of the
// name: a label is not authenticated).
func DeciderName(r *approval.Request) string {
	name := r.DecidedBy
	if name == "" {
		name = r.DecidedByID
	}
	if id := r.DecidedByID; strings.ContainsRune(id, ':') && id != name && !strings.HasSuffix(id, ":"+name) {
		name += " (" + id + ")"
	}
	if l := r.DecidedByLabel; l != "" && l != r.DecidedBy {
		name += " as “" + l + "”"
	}
	return name
}

// Reason is the decision's reason, if any.
func Reason(r *approval.Request) string { return Truncate(r.DecisionReason, 500) }

// PrettyJSON indents a JSON object for reading and truncates it to max
// characters.
func PrettyJSON(raw json.RawMessage, max int) string {
	if len(raw) == 0 {
		return "{}"
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return Truncate(string(raw), max)
	}
	return Truncate(b.String(), max)
}

// IsEmptyObject reports whether raw is absent or {}.
func IsEmptyObject(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "{}" || s == "null"
}

// Truncate shortens s to at most max characters, ending in "…".
func Truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	rs := []rune(s)
	return string(rs[:max-1]) + "…"
}

// FormatTime renders t for people: "2026-01-02 15:04 UTC".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
