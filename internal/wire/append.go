package wire

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/agentgate/agentgate/internal/approval"
)

// AppendJSON appends r's JSON encoding to b: byte for byte what
// encoding/json produces for r with HTML escaping on (TestAppendJSON holds
// the two together). Listing and reading requests are the API's hottest
// paths, and there reflection and the re-validation of the raw params
// cost about a fifth of the CPU.
//
// Params, Context and ApprovedParams are written as stored: the store only
// ever holds JSON the server encoded itself.
func (r *Request) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"action":`...)
	b = appendString(b, r.Action)
	b = append(b, `,"params":`...)
	b = appendRaw(b, r.Params)
	b = append(b, `,"context":`...)
	b = appendRaw(b, r.Context)
	b = append(b, `,"status":`...)
	b = appendString(b, string(r.Status))
	b = append(b, `,"urgency":`...)
	b = appendString(b, string(r.Urgency))
	b = append(b, `,"createdAt":`...)
	b = r.CreatedAt.appendJSON(b)
	b = append(b, `,"updatedAt":`...)
	b = r.UpdatedAt.appendJSON(b)
	b = append(b, `,"decidedAt":`...)
	b = r.DecidedAt.appendJSON(b)
	b = append(b, `,"decidedBy":`...)
	b = appendStrPtr(b, r.DecidedBy)
	b = append(b, `,"decidedById":`...)
	b = appendStrPtr(b, r.DecidedByID)
	b = append(b, `,"decidedByType":`...)
	b = appendStrPtr(b, r.DecidedByType)
	if r.DecidedByLabel != nil {
		b = append(b, `,"decidedByLabel":`...)
		b = appendString(b, *r.DecidedByLabel)
	}
	b = append(b, `,"decisionReason":`...)
	b = appendStrPtr(b, r.DecisionReason)
	b = append(b, `,"expiresAt":`...)
	b = r.ExpiresAt.appendJSON(b)
	b = append(b, `,"slaRemainingMs":`...)
	if r.SLARemainingMs == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *r.SLARemainingMs, 10)
	}
	b = append(b, `,"policyDecision":`...)
	b, err := appendPolicyDecision(b, &r.PolicyDecision)
	if err != nil {
		return b, err
	}
	b = append(b, `,"agent":{"id":`...)
	b = appendString(b, r.Agent.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, r.Agent.Name)
	b = append(b, `},"approvedParams":`...)
	if len(r.ApprovedParams) == 0 {
		b = append(b, "null"...)
	} else {
		b = appendRaw(b, r.ApprovedParams)
	}
	if r.Approvals != nil {
		b = append(b, `,"approvals":{"required":`...)
		b = strconv.AppendInt(b, int64(r.Approvals.Required), 10)
		b = append(b, `,"received":`...)
		b = strconv.AppendInt(b, int64(r.Approvals.Received), 10)
		b = append(b, '}')
	}
	if r.EscalationLevel != 0 {
		b = append(b, `,"escalationLevel":`...)
		b = strconv.AppendInt(b, int64(r.EscalationLevel), 10)
	}
	if r.GrantID != nil {
		b = append(b, `,"grantId":`...)
		b = appendString(b, *r.GrantID)
	}
	return append(b, '}'), nil
}

// RequestPage is a page of requests encoded straight from the domain
// values, the same bytes encoding/json makes of the RequestList of their
// ToRequest forms: one Request is reused for every row instead of a slice
// of them (26 KB of garbage per 50-request page).
type RequestPage struct {
	Requests   []*approval.Request
	Now        time.Time
	Pagination Pagination
}

// AppendJSON appends the page's JSON encoding to b.
func (p *RequestPage) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"requests":[`...)
	var w Request
	for i, r := range p.Requests {
		if i > 0 {
			b = append(b, ',')
		}
		w = ToRequest(r, p.Now)
		var err error
		if b, err = w.AppendJSON(b); err != nil {
			return b, err
		}
	}
	b = append(b, ']')
	return appendPagination(b, p.Pagination), nil
}

// appendPagination closes a page: its pagination and the outer object.
func appendPagination(b []byte, p Pagination) []byte {
	b = append(b, `,"pagination":{"total":`...)
	b = strconv.AppendInt(b, p.Total, 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(p.Limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(p.Offset), 10)
	b = append(b, `,"hasMore":`...)
	b = strconv.AppendBool(b, p.HasMore)
	return append(b, "}}"...)
}

// appendPolicyDecision writes the common decision (no approvers,
// channels, quorum or escalation) by hand and the others through
// encoding/json.
func appendPolicyDecision(b []byte, pd *approval.PolicyDecision) ([]byte, error) {
	if !pd.Scalar() {
		raw, err := json.Marshal(pd)
		return append(b, raw...), err
	}
	b = append(b, `{"decision":`...)
	b = appendString(b, pd.Decision)
	if pd.PolicyID != "" {
		b = append(b, `,"policyId":`...)
		b = appendString(b, pd.PolicyID)
	}
	if pd.PolicyName != "" {
		b = append(b, `,"policyName":`...)
		b = appendString(b, pd.PolicyName)
	}
	b = append(b, `,"ruleIndex":`...)
	if pd.RuleIndex == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*pd.RuleIndex), 10)
	}
	b = append(b, `,"reason":`...)
	b = appendString(b, pd.Reason)
	if pd.RequireReason {
		b = append(b, `,"requireReason":true`...)
	}
	if pd.OnTimeout != "" {
		b = append(b, `,"onTimeout":`...)
		b = appendString(b, pd.OnTimeout)
	}
	return append(b, '}'), nil
}

func (t Time) appendJSON(b []byte) []byte {
	tt := time.Time(t)
	if tt.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = tt.UTC().AppendFormat(b, approval.TimeFormat)
	return append(b, '"')
}

func appendStrPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping: <, > and & as \u escapes, U+2028 and U+2029 escaped,
// invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendRaw appends stored JSON as encoding/json writes a raw message:
// compacted (PostgreSQL's jsonb text has spaces after colons and commas)
// and HTML-escaped. <, > and & and U+2028/U+2029 can only occur inside
// strings in valid JSON, so escaping them byte-wise is exact.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	start := 0
	inString, escaped := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		} else {
			switch c {
			case '"':
				inString = true
			case ' ', '\t', '\n', '\r':
				b = append(b, raw[start:i]...)
				start = i + 1
				continue
			}
		}
		switch {
		case c == '<' || c == '>' || c == '&':
			b = append(b, raw[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			start = i + 1
		case c == 0xe2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xa8 || raw[i+2] == 0xa9):
			b = append(b, raw[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[raw[i+2]&0xf])
			i += 2
			start = i + 1
		}
	}
	return append(b, raw[start:]...)
}
