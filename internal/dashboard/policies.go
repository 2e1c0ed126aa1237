package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/httpapi"
	"github.com/agentgate/agentgate/internal/policy"
)

// policiesPage is the Data of the policies (list) template.
type policiesPage struct {
	Policies []approval.StoredPolicy
	Sample   sampleForm
	Result   *approval.DryRunResult
	Error    string
}

// sampleForm is a sample request to dry-run, as entered.
type sampleForm struct {
	Action, Urgency, Params, Context, Agent string
	Urgencies                               []string
}

// policyPage is the Data of the policy editor template.
type policyPage struct {
	ID       string // "" for a new policy
	Stored   *approval.StoredPolicy
	ReadOnly bool // file-managed: edit the file instead
	Doc      string
	Error    string

	Templates []approval.Template
	Template  string

	Sample    sampleForm
	DryRun    *approval.DryRunResult
	DryRunErr string
	Sim       *approval.SimulateResult
	SimErr    string
}

// policyDoc is the editor's JSON: the editable fields of a policy. The
// read-only fields of an API answer are accepted and ignored, so a policy
// copied from GET /api/policies/{id} can be pasted as it is.
type policyDoc struct {
	Name     string        `json:"name"`
	Priority *int          `json:"priority,omitempty"`
	Enabled  *bool         `json:"enabled,omitempty"`
	Scope    policy.Scope  `json:"scope,omitempty"`
	AgentIDs []string      `json:"agentIds,omitempty"`
	ToolIDs  []string      `json:"toolIds,omitempty"`
	Rules    []policy.Rule `json:"rules"`

	ID        json.RawMessage `json:"id,omitempty"`
	Source    json.RawMessage `json:"source,omitempty"`
	CreatedAt json.RawMessage `json:"createdAt,omitempty"`
	UpdatedAt json.RawMessage `json:"updatedAt,omitempty"`
}

func docOf(p policy.Policy) string {
	prio, enabled := p.Priority, p.Enabled
	b, err := json.MarshalIndent(policyDoc{Name: p.Name, Priority: &prio, Enabled: &enabled, Scope: p.Scope,
		AgentIDs: p.AgentIDs, ToolIDs: p.ToolIDs, Rules: p.Rules}, "", "  ")
	if err != nil {
		return "{}"
	}
	return string(b)
}

// newPolicyDoc is the editor's starting point for a new policy.
const newPolicyDoc = `{
  "name": "Production deploys need a person",
  "priority": 100,
  "enabled": true,
  "rules": [
    {
      "match": { "action": "deploy", "params.environment": "production" },
      "decision": "route_to_human",
      "requireReason": true,
      "timeout": "1h",
      "onTimeout": "deny"
    }
  ]
}`

// parsePolicyDoc reads the editor's JSON with the API's defaults
// (priority 100, enabled, global scope). Unknown fields are refused, so a
// misspelt "rule" is an error instead of a policy without rules.
func parsePolicyDoc(doc string) (policy.Policy, error) {
	p := policy.Policy{Priority: httpapi.DefaultPolicyPriority, Enabled: true, Scope: "global"}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	var d policyDoc
	if err := dec.Decode(&d); err != nil {
		msg := jsonSyntaxMessage([]byte(doc), err)
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			msg = "Unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") +
				": a policy has name, priority, enabled, scope, agentIds, toolIds and rules."
		}
		return p, approval.Errorf(approval.CodeInvalid, "%s", msg)
	}
	if dec.More() {
		return p, approval.Errorf(approval.CodeInvalid, "The editor must hold exactly one JSON object.")
	}
	if d.Rules == nil {
		return p, approval.Errorf(approval.CodeInvalid, "rules is required: a list of {match, decision} rules.")
	}
	p.Name, p.AgentIDs, p.ToolIDs, p.Rules = d.Name, d.AgentIDs, d.ToolIDs, d.Rules
	if d.Priority != nil {
		p.Priority = *d.Priority
	}
	if d.Enabled != nil {
		p.Enabled = *d.Enabled
	}
	if d.Scope != "" {
		p.Scope = d.Scope
	}
	return p, nil
}

func newSample() sampleForm {
	return sampleForm{Urgency: "normal", Params: "{}", Context: "{}", Urgencies: []string{"low", "normal", "high", "critical"}}
}

// readSample reads a sample request from the form.
func readSample(r *http.Request) (sampleForm, approval.DryRunInput, error) {
	f := r.PostForm
	s := newSample()
	s.Action, s.Urgency, s.Agent = strings.TrimSpace(f.Get("action")), f.Get("urgency"), strings.TrimSpace(f.Get("agent"))
	s.Params, s.Context = cmpOr(strings.TrimSpace(f.Get("params")), "{}"), cmpOr(strings.TrimSpace(f.Get("context")), "{}")
	in := approval.DryRunInput{Action: s.Action, Urgency: approval.Urgency(s.Urgency),
		Agent: approval.Actor{ID: s.Agent, Name: s.Agent, Type: approval.ActorAgent}}
	for _, part := range []struct {
		name, text string
		dst        *map[string]any
	}{{"params", s.Params, &in.Params}, {"context", s.Context, &in.Context}} {
		dec := json.NewDecoder(strings.NewReader(part.text))
		dec.UseNumber()
		if err := dec.Decode(part.dst); err != nil || *part.dst == nil {
			return s, in, approval.Errorf(approval.CodeInvalid, "%s must be a JSON object, such as {\"to\": \"a@example.com\"}", part.name)
		}
	}
	return s, in, nil
}

func (d *Dashboard) renderPolicies(w http.ResponseWriter, r *http.Request, v *view, status int, pg policiesPage) error {
	ps, err := d.approvals.Policies(r.Context())
	if err != nil {
		return err
	}
	pg.Policies = ps
	d.render(w, r, v, status, "policies", &Page{Title: "Policies", Nav: "policies", Data: pg})
	return nil
}

// policies serves GET /policies.
func (d *Dashboard) policies(w http.ResponseWriter, r *http.Request, v *view) error {
	return d.renderPolicies(w, r, v, http.StatusOK, policiesPage{Sample: newSample()})
}

// dryRunAll serves POST /policies/dry-run: what the policies in force
// would do with a sample request.
func (d *Dashboard) dryRunAll(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	s, in, err := readSample(r)
	pg := policiesPage{Sample: s}
	if err == nil {
		pg.Result, err = d.approvals.DryRun(r.Context(), in)
	}
	if err != nil {
		if approval.ErrorCode(err) != approval.CodeInvalid {
			return err
		}
		pg.Error = approval.ErrorMessage(err)
		return d.renderPolicies(w, r, v, http.StatusBadRequest, pg)
	}
	return d.renderPolicies(w, r, v, http.StatusOK, pg)
}

func (d *Dashboard) renderPolicy(w http.ResponseWriter, r *http.Request, v *view, status int, pg *policyPage) {
	title := "New policy"
	if pg.Stored != nil {
		title = pg.Stored.Name
	}
	if pg.Sample.Urgencies == nil {
		pg.Sample = newSample()
	}
	d.render(w, r, v, status, "policy", &Page{Title: title, Nav: "policies", Data: pg})
}

// newPolicy serves GET /policies/new, optionally from ?template=.
func (d *Dashboard) newPolicy(w http.ResponseWriter, r *http.Request, v *view) error {
	pg := &policyPage{Doc: newPolicyDoc, Templates: d.approvals.PolicyTemplates(), Template: r.URL.Query().Get("template")}
	if pg.Template != "" {
		found := false
		for _, t := range pg.Templates {
			if t.ID == pg.Template {
				pg.Doc, found = docOf(t.Policy), true
			}
		}
		if !found {
			return approval.Errorf(approval.CodeNotFound, "Template not found: %s", pg.Template)
		}
	}
	d.renderPolicy(w, r, v, http.StatusOK, pg)
	return nil
}

// loadPolicy returns the editor page of stored policy id.
func (d *Dashboard) loadPolicy(r *http.Request, id string) (*policyPage, error) {
	sp, err := d.approvals.Policy(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return &policyPage{ID: sp.ID, Stored: sp, ReadOnly: sp.Source == approval.PolicySourceFile, Doc: docOf(sp.Policy)}, nil
}

// editPolicy serves GET /policies/{id}.
func (d *Dashboard) editPolicy(w http.ResponseWriter, r *http.Request, v *view) error {
	pg, err := d.loadPolicy(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.renderPolicy(w, r, v, http.StatusOK, pg)
	return nil
}

// editorError shows a validation error next to the editor (the service's
// message names the policy, rule index and field); other errors go to the
// error page.
func (d *Dashboard) editorError(w http.ResponseWriter, r *http.Request, v *view, pg *policyPage, err error) error {
	switch approval.ErrorCode(err) {
	case approval.CodeInvalid, approval.CodeConflict:
		pg.Error = approval.ErrorMessage(err)
		d.renderPolicy(w, r, v, httpapi.StatusOf(err), pg)
		return nil
	}
	return err
}

// createPolicy serves POST /policies.
func (d *Dashboard) createPolicy(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	pg := &policyPage{Doc: r.PostForm.Get("policy"), Templates: d.approvals.PolicyTemplates()}
	p, err := parsePolicyDoc(pg.Doc)
	if err != nil {
		return d.editorError(w, r, v, pg, err)
	}
	sp, err := d.approvals.CreatePolicy(r.Context(), v.actor(), p)
	if err != nil {
		return d.editorError(w, r, v, pg, err)
	}
	redirect(w, r, "/policies/"+url.PathEscape(sp.ID)+"?toast=policy-created")
	return nil
}

// savePolicy serves POST /policies/{id}.
func (d *Dashboard) savePolicy(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	pg, err := d.loadPolicy(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	pg.Doc = r.PostForm.Get("policy")
	p, err := parsePolicyDoc(pg.Doc)
	if err != nil {
		return d.editorError(w, r, v, pg, err)
	}
	if _, err := d.approvals.UpdatePolicy(r.Context(), v.actor(), pg.ID, p); err != nil {
		return d.editorError(w, r, v, pg, err)
	}
	redirect(w, r, "/policies/"+url.PathEscape(pg.ID)+"?toast=policy-saved")
	return nil
}

// togglePolicy serves POST /policies/{id}/toggle (enable or disable).
func (d *Dashboard) togglePolicy(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	on := r.PostForm.Get("enabled") == "true"
	sp, err := d.approvals.PatchPolicy(r.Context(), v.actor(), r.PathValue("id"), approval.PolicyPatch{Enabled: &on})
	if err != nil {
		return err
	}
	toast := "policy-off"
	if sp.Enabled {
		toast = "policy-on"
	}
	redirect(w, r, withToast(localPath(r.PostForm.Get("next"), "/policies"), toast))
	return nil
}

// deletePolicy serves POST /policies/{id}/delete.
func (d *Dashboard) deletePolicy(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := d.approvals.DeletePolicy(r.Context(), v.actor(), r.PathValue("id")); err != nil {
		return err
	}
	redirect(w, r, "/policies?toast=policy-deleted")
	return nil
}

// dryRunPolicy serves POST /policies/{id}/dry-run: what the saved policy
// alone would do with a sample request.
func (d *Dashboard) dryRunPolicy(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	pg, err := d.loadPolicy(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	s, in, err := readSample(r)
	pg.Sample = s
	if err == nil {
		pg.DryRun, err = d.approvals.DryRunPolicy(r.Context(), pg.ID, in)
	}
	status := http.StatusOK
	if err != nil {
		if approval.ErrorCode(err) != approval.CodeInvalid {
			return err
		}
		pg.DryRunErr, status = approval.ErrorMessage(err), http.StatusBadRequest
	}
	d.renderPolicy(w, r, v, status, pg)
	return nil
}

// simulateLimit is how many recent requests a simulation replays.
const simulateLimit = 500

// simulate serves POST /policies/simulate: the editor's draft replayed
// against recent requests, next to what actually happened.
func (d *Dashboard) simulate(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	pg := &policyPage{Doc: r.PostForm.Get("policy"), Templates: d.approvals.PolicyTemplates()}
	if id := r.PostForm.Get("id"); id != "" {
		loaded, err := d.loadPolicy(r, id)
		if err != nil {
			return err
		}
		loaded.Doc = pg.Doc
		pg = loaded
	}
	p, err := parsePolicyDoc(pg.Doc)
	if err == nil {
		p.ID = pg.ID
		pg.Sim, err = d.approvals.Simulate(r.Context(), approval.SimulateInput{Policy: p, Limit: simulateLimit})
	}
	if err != nil {
		if approval.ErrorCode(err) != approval.CodeInvalid {
			return err
		}
		pg.SimErr = approval.ErrorMessage(err)
		d.renderPolicy(w, r, v, http.StatusBadRequest, pg)
		return nil
	}
	d.renderPolicy(w, r, v, http.StatusOK, pg)
	return nil
}

// decisionLabel names a policy decision for people.
func decisionLabel(s string) string {
	switch s {
	case string(policy.AutoApprove):
		return "Auto-approve"
	case string(policy.AutoDeny):
		return "Auto-deny"
	case string(policy.RouteToHuman):
		return "Ask a person"
	}
	return s
}
