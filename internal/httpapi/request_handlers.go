package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/wire"
)

// Fields accepted by POST /api/requests.
var createRequestFields = []string{"action", "params", "context", "urgency", "expiresAt"}

func (s *Server) createRequest(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, createRequestFields...)
	if err != nil {
		return err
	}
	in, err := parseCreateInput(fields)
	if err != nil {
		return err
	}
	in.IdempotencyKey = strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	p := principal(r)
	req, replayed, err := s.approvals.Create(r.Context(), p.Actor("api", approval.ActorAgent), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/requests/"+req.ID)
	status := http.StatusCreated
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	writeRequest(w, status, req)
	return nil
}

func parseCreateInput(fields map[string]json.RawMessage) (approval.CreateInput, error) {
	var in approval.CreateInput
	action, ok, err := stringField(fields, "action")
	if err != nil || !ok || strings.TrimSpace(action) == "" {
		return in, approval.Errorf(approval.CodeInvalid, "action is required and must be a non-empty string")
	}
	in.Action = action
	if in.Params, in.RawParams, err = objectField(fields, "params"); err != nil {
		return in, err
	}
	if in.Context, in.RawContext, err = objectField(fields, "context"); err != nil {
		return in, err
	}
	urgency, _, err := stringField(fields, "urgency")
	if err != nil {
		return in, approval.Errorf(approval.CodeInvalid, "urgency must be one of low, normal, high, critical")
	}
	in.Urgency = approval.Urgency(urgency)
	exp, ok, err := stringField(fields, "expiresAt")
	if err != nil {
		return in, approval.Errorf(approval.CodeInvalid, "expiresAt must be an RFC 3339 time string, e.g. 2026-01-02T15:04:05Z")
	}
	if ok {
		t, perr := time.Parse(time.RFC3339Nano, exp)
		if perr != nil {
			return in, approval.Errorf(approval.CodeInvalid, "expiresAt must be an RFC 3339 time string, e.g. 2026-01-02T15:04:05Z")
		}
		in.ExpiresAt = t
	}
	return in, nil
}

func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, offset, err := pageParams(q)
	if err != nil {
		return err
	}
	f := approval.RequestFilter{
		Status:    approval.Status(q.Get("status")),
		Action:    q.Get("action"),
		AgentID:   q.Get("agentId"),
		DecidedBy: q.Get("decidedBy"),
		Sort:      q.Get("sort"),
		Limit:     limit,
		Offset:    offset,
	}
	if f.From, err = queryTime(q, "from", false); err != nil {
		return err
	}
	if f.To, err = queryTime(q, "to", true); err != nil {
		return err
	}
	reqs, total, err := s.approvals.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := wire.RequestPage{Requests: reqs, Now: time.Now(), Pagination: wire.Page(total, f.Limit, f.Offset)}
	writeAppended(w, http.StatusOK, &out, 1024*(len(reqs)+1))
	return nil
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) error {
	req, err := s.approvals.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeRequest(w, http.StatusOK, req)
	return nil
}

func (s *Server) requestAudit(w http.ResponseWriter, r *http.Request) error {
	events, err := s.approvals.RequestAudit(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]wire.AuditEvent, len(events))
	for i, e := range events {
		out[i] = wire.ToAuditEvent(e)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var decideFields = []string{"decision", "reason", "decidedBy", "params", "grant"}

// parseDecide reads a decision body: {decision, reason?, decidedBy?,
// params? (edited params, with an approval), grant? {duration, maxUses?,
// conditions?}}.
func parseDecide(fields map[string]json.RawMessage) (approval.DecideInput, error) {
	var in approval.DecideInput
	decision, _, err := stringField(fields, "decision")
	if err != nil {
		return in, approval.Errorf(approval.CodeInvalid, "decision must be 'approved' or 'denied'")
	}
	in.Decision = approval.Status(decision)
	if in.Reason, _, err = stringField(fields, "reason"); err != nil {
		return in, err
	}
	if in.Label, _, err = stringField(fields, "decidedBy"); err != nil {
		return in, err
	}
	if in.Params, in.RawParams, err = objectField(fields, "params"); err != nil {
		return in, err
	}
	if raw, ok := fields["grant"]; ok && !isNull(raw) {
		gf, err := parseObject(raw, "duration", "maxUses", "conditions")
		if err != nil {
			return in, approval.Errorf(approval.CodeInvalid, "grant: %s", approval.ErrorMessage(err))
		}
		g := &approval.GrantInput{}
		d, ok, err := stringField(gf, "duration")
		if err != nil || !ok {
			return in, approval.Errorf(approval.CodeInvalid, "grant.duration is required: a duration such as 1h")
		}
		if g.Duration, err = time.ParseDuration(d); err != nil {
			return in, approval.Errorf(approval.CodeInvalid, "grant.duration must be a duration such as 30m or 1h")
		}
		if _, err := decodeField(gf, "maxUses", &g.MaxUses); err != nil {
			return in, approval.Errorf(approval.CodeInvalid, "grant.maxUses must be a whole number")
		}
		if g.Conditions, _, err = objectField(gf, "conditions"); err != nil {
			return in, approval.Errorf(approval.CodeInvalid, "grant.conditions must be a match object, e.g. {\"params.amount\": {\"$lte\": 100}}")
		}
		in.Grant = g
	}
	return in, nil
}

func (s *Server) decideRequest(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, decideFields...)
	if err != nil {
		return err
	}
	in, err := parseDecide(fields)
	if err != nil {
		return err
	}
	p := principal(r)
	req, err := s.approvals.Decide(r.Context(), p.Actor("api", approval.ActorHuman), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeRequest(w, http.StatusOK, req)
	return nil
}

// decideBatch decides many requests at once; each is decided (and
// audited) on its own, and the answer lists every outcome.
func (s *Server) decideBatch(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, "ids", "decision", "reason", "decidedBy")
	if err != nil {
		return err
	}
	var ids []string
	if _, err := decodeField(fields, "ids", &ids); err != nil {
		return err
	}
	in, err := parseDecide(map[string]json.RawMessage{"decision": fields["decision"], "reason": fields["reason"], "decidedBy": fields["decidedBy"]})
	if err != nil {
		return err
	}
	results, err := s.approvals.DecideBatch(r.Context(), principal(r).Actor("api", approval.ActorHuman), ids, in)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]wire.BatchResult, len(results))
	for i, res := range results {
		out[i] = wire.BatchResult{ID: res.ID, OK: res.Err == nil, Status: http.StatusOK}
		if res.Err != nil {
			out[i].Status, out[i].Error = StatusOf(res.Err), approval.ErrorMessage(res.Err)
			if out[i].Status >= 500 {
				s.log.Error("batch decision failed", "request_id", RequestID(r.Context()), "id", res.ID, "err", res.Err)
			}
			continue
		}
		wr := wire.ToRequest(res.Request, now)
		out[i].Request = &wr
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
	return nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, offset, err := pageParams(q)
	if err != nil {
		return err
	}
	f := approval.AuditFilter{
		RequestID: q.Get("requestId"),
		EventType: q.Get("eventType"),
		Actor:     q.Get("actor"),
		Action:    q.Get("action"),
		Status:    approval.Status(q.Get("status")),
		Limit:     limit,
		Offset:    offset,
	}
	if f.From, err = queryTime(q, "from", false); err != nil {
		return err
	}
	if f.To, err = queryTime(q, "to", true); err != nil {
		return err
	}
	events, total, err := s.approvals.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	out := wire.AuditList{Entries: make([]wire.AuditEvent, len(events)), Pagination: wire.Page(total, f.Limit, f.Offset)}
	for i, e := range events {
		out.Entries[i] = wire.ToAuditEvent(e)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	writeJSON(w, http.StatusOK, map[string]any{"id": p.KeyID, "name": p.Name, "scopes": p.Scopes, "rateLimit": p.RateLimit, "via": p.Via})
	return nil
}
