package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/wire"
)

var policyFields = []string{"name", "priority", "enabled", "scope", "agentIds", "toolIds", "rules"}

// DefaultPolicyPriority is given to a new policy that names none (the
// upstream's default).
const DefaultPolicyPriority = 100

// parsePolicy decodes a full policy body, applying the upstream's
// defaults: priority 100, enabled, global scope.
func parsePolicy(fields map[string]json.RawMessage) (policy.Policy, error) {
	p := policy.Policy{Priority: DefaultPolicyPriority, Enabled: true, Scope: "global"}
	var err error
	if p.Name, _, err = stringField(fields, "name"); err != nil {
		return p, err
	}
	for _, f := range []struct {
		name string
		dst  any
	}{{"priority", &p.Priority}, {"enabled", &p.Enabled}, {"scope", &p.Scope}, {"agentIds", &p.AgentIDs}, {"toolIds", &p.ToolIDs}, {"rules", &p.Rules}} {
		if _, err := decodeField(fields, f.name, f.dst); err != nil {
			return p, err
		}
	}
	if _, ok := fields["rules"]; !ok {
		return p, approval.Errorf(approval.CodeInvalid, "rules is required: a list of {match, decision} rules")
	}
	return p, nil
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := pageParams(r.URL.Query())
	if err != nil {
		return err
	}
	ps, err := s.approvals.Policies(r.Context())
	if err != nil {
		return err
	}
	out := []wire.Policy{}
	for i := offset; i < len(ps) && i < offset+limit; i++ {
		out = append(out, wire.ToPolicy(&ps[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": out, "pagination": wire.Page(int64(len(ps)), limit, offset)})
	return nil
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, policyFields...)
	if err != nil {
		return err
	}
	p, err := parsePolicy(fields)
	if err != nil {
		return err
	}
	sp, err := s.approvals.CreatePolicy(r.Context(), principal(r).Actor("api", approval.ActorHuman), p)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/policies/"+sp.ID)
	writeJSON(w, http.StatusCreated, wire.ToPolicy(sp))
	return nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	sp, err := s.approvals.Policy(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ToPolicy(sp))
	return nil
}

func (s *Server) replacePolicy(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, policyFields...)
	if err != nil {
		return err
	}
	p, err := parsePolicy(fields)
	if err != nil {
		return err
	}
	sp, err := s.approvals.UpdatePolicy(r.Context(), principal(r).Actor("api", approval.ActorHuman), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ToPolicy(sp))
	return nil
}

func (s *Server) patchPolicy(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, policyFields...)
	if err != nil {
		return err
	}
	var patch approval.PolicyPatch
	var (
		name     string
		priority int
		enabled  bool
		scope    policy.Scope
		agentIDs []string
		toolIDs  []string
		rules    []policy.Rule
	)
	for _, f := range []struct {
		name string
		dst  any
		set  func()
	}{
		{"name", &name, func() { patch.Name = &name }},
		{"priority", &priority, func() { patch.Priority = &priority }},
		{"enabled", &enabled, func() { patch.Enabled = &enabled }},
		{"scope", &scope, func() { patch.Scope = &scope }},
		{"agentIds", &agentIDs, func() { patch.AgentIDs = &agentIDs }},
		{"toolIds", &toolIDs, func() { patch.ToolIDs = &toolIDs }},
		{"rules", &rules, func() { patch.Rules = &rules }},
	} {
		ok, err := decodeField(fields, f.name, f.dst)
		if err != nil {
			return err
		}
		if ok {
			f.set()
		}
	}
	sp, err := s.approvals.PatchPolicy(r.Context(), principal(r).Actor("api", approval.ActorHuman), r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ToPolicy(sp))
	return nil
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.approvals.DeletePolicy(r.Context(), principal(r).Actor("api", approval.ActorHuman), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "id": id})
	return nil
}

var dryRunFields = []string{"action", "params", "context", "urgency", "agent"}

func parseDryRun(fields map[string]json.RawMessage) (approval.DryRunInput, error) {
	var in approval.DryRunInput
	ci, err := parseCreateInput(map[string]json.RawMessage{
		"action": fields["action"], "params": fields["params"], "context": fields["context"], "urgency": fields["urgency"],
	})
	if err != nil {
		return in, err
	}
	in.Action, in.Params, in.Context, in.Urgency = ci.Action, ci.Params, ci.Context, ci.Urgency
	var agent struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if _, err := decodeField(fields, "agent", &agent); err != nil {
		return in, err
	}
	in.Agent = approval.Actor{ID: agent.ID, Name: agent.Name, Type: approval.ActorAgent}
	return in, nil
}

// DryRun is the answer of the dry-run endpoints.
type DryRun struct {
	approval.PolicyDecision
	Matched bool     `json:"matched"`
	Errors  []string `json:"errors,omitempty"`
}

func (s *Server) dryRunPolicy(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, dryRunFields...)
	if err != nil {
		return err
	}
	in, err := parseDryRun(fields)
	if err != nil {
		return err
	}
	res, err := s.approvals.DryRunPolicy(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, DryRun{PolicyDecision: res.PolicyDecision, Matched: res.Matched, Errors: res.Errors})
	return nil
}

func (s *Server) dryRunAll(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, dryRunFields...)
	if err != nil {
		return err
	}
	in, err := parseDryRun(fields)
	if err != nil {
		return err
	}
	res, err := s.approvals.DryRun(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, DryRun{PolicyDecision: res.PolicyDecision, Matched: res.Matched, Errors: res.Errors})
	return nil
}

var simulateFields = []string{"policy", "name", "priority", "enabled", "scope", "agentIds", "toolIds", "rules", "id", "limit", "from", "to"}

// simulatePolicy replays a candidate policy against stored requests. The
// candidate is either under "policy" or given inline (the upstream sends
// rules, priority and scope at the top level).
func (s *Server) simulatePolicy(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, simulateFields...)
	if err != nil {
		return err
	}
	pfields := fields
	if raw, ok := fields["policy"]; ok && !isNull(raw) {
		if pfields, err = parseObject(raw, policyFields...); err != nil {
			return approval.Errorf(approval.CodeInvalid, "policy: %s", approval.ErrorMessage(err))
		}
	}
	if _, ok := pfields["name"]; !ok {
		pfields["name"] = json.RawMessage(`"candidate"`)
	}
	p, err := parsePolicy(pfields)
	if err != nil {
		return err
	}
	if id, ok, err := stringField(fields, "id"); err != nil {
		return err
	} else if ok {
		p.ID = id
	}
	in := approval.SimulateInput{Policy: p}
	if _, err := decodeField(fields, "limit", &in.Limit); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &in.From}, {"to", &in.To}} {
		v, ok, err := stringField(fields, t.name)
		if err != nil {
			return err
		}
		if ok {
			tt, perr := time.Parse(time.RFC3339Nano, v)
			if perr != nil {
				return approval.Errorf(approval.CodeInvalid, "%s must be an RFC 3339 time", t.name)
			}
			*t.dst = tt
		}
	}
	res, err := s.approvals.Simulate(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ToSimulation(res))
	return nil
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) error {
	tpls := s.approvals.PolicyTemplates()
	out := make([]wire.Template, len(tpls))
	for i, t := range tpls {
		out[i] = wire.ToTemplate(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"templates": out})
	return nil
}

func (s *Server) createFromTemplate(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, "templateId", "overrides")
	if err != nil {
		return err
	}
	id, ok, err := stringField(fields, "templateId")
	if err != nil || !ok || id == "" {
		return approval.Errorf(approval.CodeInvalid, "templateId is required")
	}
	var o approval.TemplateOverrides
	if raw, ok := fields["overrides"]; ok && !isNull(raw) {
		of, err := parseObject(raw, "name", "priority", "enabled")
		if err != nil {
			return approval.Errorf(approval.CodeInvalid, "overrides: %s", approval.ErrorMessage(err))
		}
		var (
			name     string
			priority int
			enabled  bool
		)
		if ok, err := decodeField(of, "name", &name); err != nil {
			return err
		} else if ok {
			o.Name = &name
		}
		if ok, err := decodeField(of, "priority", &priority); err != nil {
			return err
		} else if ok {
			o.Priority = &priority
		}
		if ok, err := decodeField(of, "enabled", &enabled); err != nil {
			return err
		} else if ok {
			o.Enabled = &enabled
		}
	}
	sp, err := s.approvals.CreatePolicyFromTemplate(r.Context(), principal(r).Actor("api", approval.ActorHuman), id, o)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/policies/"+sp.ID)
	writeJSON(w, http.StatusCreated, wire.ToPolicy(sp))
	return nil
}
