package dashboard

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// displayTime is the server-rendered absolute time; the script replaces
// it with the reader's local time.
func displayTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}

// ago renders how long before now t was: "just now", "5 min ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return roughDuration(d, true)
}

// until renders how long after now t is: "in 5 min", "expired".
func until(now, t time.Time) string {
	if t.IsZero() {
		return "no expiry"
	}
	d := t.Sub(now)
	if d <= 0 {
		return "expired"
	}
	return "in " + roughDuration(d, false)
}

func roughDuration(d time.Duration, past bool) string {
	var s string
	switch {
	case d < time.Minute:
		if past {
			return "just now"
		}
		s = strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		s = strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		h := int(d.Hours())
		s = strconv.Itoa(h) + " h"
		if m := int(d.Minutes()) % 60; m > 0 && h < 10 {
			s += " " + strconv.Itoa(m) + " min"
		}
	default:
		s = strconv.Itoa(int(d.Hours()/24)) + " days"
	}
	if past {
		return s + " ago"
	}
	return s
}

// comma renders n with thousands separators: 10,000.
func comma(n any) string {
	var v int64
	switch x := n.(type) {
	case int:
		v = int64(x)
	case int64:
		v = x
	default:
		return fmt.Sprint(n)
	}
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// titleCase capitalises the first letter: "approved" -> "Approved".
func titleCase(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + strings.ReplaceAll(s[n:], "_", " ")
}

// toasts are the messages a redirect may ask the next page to show.
// Only these fixed texts can appear: a crafted link cannot make the page
// say anything else.
var toasts = map[string]string{
	"approved":       "Approved.",
	"denied":         "Denied.",
	"voted":          "Your approval is recorded; the request waits for more approvals.",
	"signed-in":      "Signed in.",
	"policy-created": "Policy created.",
	"policy-saved":   "Policy saved.",
	"policy-deleted": "Policy deleted.",
	"policy-on":      "Policy enabled.",
	"policy-off":     "Policy disabled.",
	"key-revoked":    "Key revoked. Its sessions have ended.",
	"webhook-saved":  "Webhook saved.",
	"webhook-on":     "Webhook enabled.",
	"webhook-off":    "Webhook disabled.",
	"webhook-del":    "Webhook deleted.",
	"replayed":       "Delivery queued again.",
}

func toastFrom(r *http.Request) string { return toasts[r.URL.Query().Get("toast")] }

// truncateRunes cuts s to n characters, marking the cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
