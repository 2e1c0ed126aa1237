package dashboard

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
)

const auditPageSize = 50

// auditEventTypes are offered in the filter; the service accepts any.
var auditEventTypes = []string{
	approval.EventCreated, approval.EventApproved, approval.EventDenied, approval.EventExpired,
	approval.EventPolicyCreated, approval.EventPolicyUpdated, approval.EventPolicyDeleted,
	approval.EventKeyCreated, approval.EventKeyUpdated, approval.EventKeyRevoked,
	auth.EventSessionCreated, auth.EventSessionDeleted,
	approval.EventVoted, approval.EventEscalated, approval.EventEdited,
}

// auditPage is the Data of the audit template.
type auditPage struct {
	Rows  []auditRow
	Pager pager
	Types []string
	// The filters, as entered.
	EventType, Actor, RequestID, From, To string
	Filtered                              bool
}

type auditRow struct {
	ID        int64
	Type      string
	Kind      string // request, policy, key, session, other: the badge colour
	Actor     string
	ActorType string
	At        time.Time
	RequestID string
	Action    string
	Status    string
	Details   []kv
	Seq       int64
	Hash      string
}

func auditKind(t string) string {
	switch {
	case t == approval.EventCreated || t == approval.EventApproved || t == approval.EventDenied || t == approval.EventExpired:
		return t
	case strings.HasPrefix(t, "policy."):
		return "policy"
	case strings.HasPrefix(t, "key."):
		return "key"
	case strings.HasPrefix(t, "session."):
		return "session"
	}
	return "other"
}

// auditDetails picks what is worth a glance from an event's details;
// the full object is one click away in the API.
func auditDetails(typ string, raw json.RawMessage) []kv {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var keys []string
	switch auditKind(typ) {
	case approval.EventCreated:
		keys = []string{"urgency", "channel"}
	case approval.EventApproved, approval.EventDenied, approval.EventExpired:
		keys = []string{"reason", "channel"}
	case "policy":
		keys = []string{"name", "policyId"}
	case "key":
		keys = []string{"name", "scopes", "keyId"}
	case "session":
		keys = []string{"userAgent"}
	default:
		out, _ := summarize(raw)
		return out
	}
	var out []kv
	for _, k := range keys {
		if v, ok := m[k]; ok && string(v) != `""` && string(v) != "null" {
			out = append(out, kv{Key: k, Value: truncateRunes(shortValue(v), 120)})
		}
	}
	return out
}

// audit serves GET /audit: the audit trail, newest first, filtered.
func (d *Dashboard) audit(w http.ResponseWriter, r *http.Request, v *view) error {
	q := r.URL.Query()
	offset, err := offsetParam(r)
	if err != nil {
		return err
	}
	from, to, err := dateRange(r)
	if err != nil {
		return err
	}
	pg := auditPage{
		Types:     auditEventTypes,
		EventType: strings.TrimSpace(q.Get("eventType")), Actor: strings.TrimSpace(q.Get("actor")),
		RequestID: strings.TrimSpace(q.Get("requestId")), From: q.Get("from"), To: q.Get("to"),
	}
	pg.Filtered = pg.EventType != "" || pg.Actor != "" || pg.RequestID != "" || pg.From != "" || pg.To != ""
	events, total, err := d.approvals.Audit(r.Context(), approval.AuditFilter{
		EventType: pg.EventType, Actor: pg.Actor, RequestID: pg.RequestID, From: from, To: to,
		Limit: auditPageSize, Offset: offset,
	})
	if err != nil {
		return err
	}
	for _, e := range events {
		row := auditRow{ID: e.ID, Type: e.EventType, Kind: auditKind(e.EventType), Actor: e.Actor, ActorType: string(e.ActorType),
			At: e.CreatedAt, RequestID: e.RequestID, Details: auditDetails(e.EventType, e.Details), Seq: e.Seq, Hash: e.Hash}
		if e.Request != nil {
			row.Action, row.Status = e.Request.Action, string(e.Request.Status)
		}
		pg.Rows = append(pg.Rows, row)
	}
	pg.Pager = newPager("/audit", q, total, offset, auditPageSize, len(events))
	d.render(w, r, v, http.StatusOK, "audit", &Page{Title: "Audit log", Nav: "audit", Data: pg})
	return nil
}
