package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
)

// grantChoices are the durations the approval form offers for "also
// approve the same for the next …". The service accepts up to 30 days;
// the form keeps to what a person decides on the spot.
var grantChoices = []grantChoice{
	{"15m", "15 minutes"},
	{"1h", "1 hour"},
	{"4h", "4 hours"},
	{"24h", "24 hours"},
}

type grantChoice struct {
	Value string
	Label string
}

// grantLabel names a grant duration for people: "1 hour".
func grantLabel(v string) string {
	for _, c := range grantChoices {
		if c.Value == v {
			return c.Label
		}
	}
	return v
}

// approvalForm is what the request page's approval form carries besides
// the decision and the reason.
type approvalForm struct {
	Params    string // the editor's text; "" when the editor was closed
	Grant     string // one of grantChoices, or ""
	GrantUses string // optional maximum number of uses
}

func readApprovalForm(f map[string][]string) approvalForm {
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	return approvalForm{Params: get("params"), Grant: get("grant"), GrantUses: get("grantUses")}
}

// editError marks an error that belongs next to the params editor.
type editError struct{ err error }

func (e *editError) Error() string { return e.err.Error() }
func (e *editError) Unwrap() error { return e.err }

// apply fills in's edited params and grant from the form. Params equal to
// the request's own (the form without the script always posts the
// editor's text) are no edit. Errors are approval errors with messages
// for people; those about params are wrapped in editError.
func (af approvalForm) apply(in *approval.DecideInput, original json.RawMessage) error {
	if af.Params != "" {
		raw, err := parseParamsObject(af.Params)
		if err != nil {
			return &editError{err}
		}
		if !sameJSON(raw, original) {
			in.RawParams = raw
		}
	}
	if af.Grant != "" {
		dur, err := time.ParseDuration(af.Grant)
		if err != nil || !slices.ContainsFunc(grantChoices, func(c grantChoice) bool { return c.Value == af.Grant }) {
			return approval.Errorf(approval.CodeInvalid, "Choose how long the same approval lasts: 15 minutes, 1 hour, 4 hours or 24 hours.")
		}
		g := &approval.GrantInput{Duration: dur}
		if af.GrantUses != "" {
			n, err := strconv.Atoi(af.GrantUses)
			if err != nil || n < 1 || n > approval.MaxGrantUses {
				return approval.Errorf(approval.CodeInvalid, "Max uses must be a whole number from 1 to %s, or empty for no limit.", comma(approval.MaxGrantUses))
			}
			g.MaxUses = &n
		}
		in.Grant = g
	}
	return nil
}

// parseParamsObject checks that text is exactly one JSON object and
// returns it compacted, members in the order they were typed.
func parseParamsObject(text string) (json.RawMessage, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, approval.Errorf(approval.CodeInvalid, "Params: %s", jsonSyntaxMessage([]byte(text), err))
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, approval.Errorf(approval.CodeInvalid, "Params must be a JSON object, such as {\"amount\": 100}.")
	}
	if dec.More() {
		return nil, approval.Errorf(approval.CodeInvalid, "Params must be exactly one JSON object.")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		return nil, approval.Errorf(approval.CodeInvalid, "Params: %s", jsonSyntaxMessage([]byte(text), err))
	}
	return buf.Bytes(), nil
}

// canonicalJSON re-encodes v with sorted keys and numbers as written, so
// that equal values compare equal whatever their spacing and key order.
func canonicalJSON(v json.RawMessage) (string, bool) {
	if len(v) == 0 {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var x any
	if dec.Decode(&x) != nil {
		return "", false
	}
	b, err := json.Marshal(x)
	if err != nil {
		return "", false
	}
	return string(b), true
}

func sameJSON(a, b json.RawMessage) bool {
	ca, okA := canonicalJSON(a)
	cb, okB := canonicalJSON(b)
	return okA && okB && ca == cb
}

// prettyParams is the editor's starting text: the params indented, in
// the agent's order.
func prettyParams(raw json.RawMessage) string {
	var buf bytes.Buffer
	if len(raw) == 0 || json.Indent(&buf, raw, "", "  ") != nil {
		return "{}"
	}
	return buf.String()
}

// paramChange is one top-level param an approver changed, as the page
// shows it.
type paramChange struct {
	Key     string
	Before  string
	After   string
	Added   bool // not in the agent's params
	Removed bool // not in the approved params
}

// diffValueLength bounds one side of a change on the page.
const diffValueLength = 240

// paramDiff lists the top-level members that differ between two JSON
// objects, in the order of before, then the members after added.
func paramDiff(before, after json.RawMessage) []paramChange {
	bk, bv := members(before)
	ak, av := members(after)
	var out []paramChange
	show := func(v json.RawMessage) string { return truncateRunes(diffValue(v), diffValueLength) }
	for _, k := range bk {
		a, ok := av[k]
		switch {
		case !ok:
			out = append(out, paramChange{Key: k, Before: show(bv[k]), Removed: true})
		case !sameJSON(bv[k], a):
			out = append(out, paramChange{Key: k, Before: show(bv[k]), After: show(a)})
		}
	}
	for _, k := range ak {
		if _, ok := bv[k]; !ok {
			out = append(out, paramChange{Key: k, After: show(av[k]), Added: true})
		}
	}
	return out
}

// members returns an object's keys in order and its values.
func members(raw json.RawMessage) ([]string, map[string]json.RawMessage) {
	vals := map[string]json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, vals
	}
	var keys []string
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		k, _ := kt.(string)
		if _, dup := vals[k]; !dup {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	return keys, vals
}

// diffValue renders one value of a change on one line: strings quoted,
// so that "" and a missing value look different.
func diffValue(v json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return htmlUnescaper.Replace(buf.String())
}

// approverView is one entry of a rule's approver list; a group shows its
// members.
type approverView struct {
	Name    string
	Group   bool
	Members []string
	Missing bool // a group that does not exist (nobody can use it)
}

// approverList expands groups in list for display.
func (d *Dashboard) approverList(ctx context.Context, list []string) ([]approverView, error) {
	if len(list) == 0 {
		return nil, nil
	}
	var groups map[string][]string
	out := make([]approverView, 0, len(list))
	for _, a := range list {
		name, isGroup := strings.CutPrefix(a, "group:")
		if !isGroup {
			out = append(out, approverView{Name: a})
			continue
		}
		if groups == nil {
			gs, err := d.approvals.Groups(ctx)
			if err != nil {
				return nil, err
			}
			groups = map[string][]string{}
			for _, g := range gs {
				groups[g.Name] = g.Members
			}
		}
		m, ok := groups[name]
		out = append(out, approverView{Name: a, Group: true, Members: m, Missing: !ok})
	}
	return out, nil
}

// mayDecide mirrors the service's approver check for the page: whether p
// is on the list, by key id or name, directly or through a group. The
// service checks again when the decision is sent.
func mayDecide(list []approverView, p *auth.Principal) bool {
	if len(list) == 0 {
		return true
	}
	ids := []string{p.KeyID, p.Name}
	for _, a := range list {
		if !a.Group && slices.Contains(ids, a.Name) {
			return true
		}
		for _, m := range a.Members {
			if slices.Contains(ids, m) {
				return true
			}
		}
	}
	return false
}

// allowedApprovers is who may decide r: the quorum's from list when it
// has one, else the rule's approvers (empty: anyone with request:decide).
func allowedApprovers(r *approval.Request) []string {
	if q := r.PolicyDecision.Approvals; q != nil && len(q.From) > 0 {
		return q.From
	}
	return r.PolicyDecision.Approvers
}

// quorumView is a quorum request's progress.
type quorumView struct {
	Votes, Required int
	Voters          []string // who approved so far, oldest first
	YouVoted        bool
}

// Remaining is how many approvals are still needed.
func (q *quorumView) Remaining() int { return max(0, q.Required-q.Votes) }

// escalationStep is one step of a rule's escalation, with whether it
// fired.
type escalationStep struct {
	N       int
	After   string
	To      []string
	Due     time.Time
	Fired   bool
	FiredAt time.Time
	Next    bool // the next step to fire
}

// escalationSteps lays out r's escalation; fired maps a step (1-based)
// to when its audit event says it fired.
func escalationSteps(r *approval.Request, fired map[int]time.Time) []escalationStep {
	steps := r.PolicyDecision.Escalate
	out := make([]escalationStep, 0, len(steps))
	for i, s := range steps {
		after := time.Duration(s.After)
		st := escalationStep{N: i + 1, After: roughDuration(after, false), To: s.To, Due: r.CreatedAt.Add(after)}
		st.FiredAt, st.Fired = fired[i+1]
		if i < r.EscalationLevel {
			st.Fired = true
		}
		st.Next = !st.Fired && i == r.EscalationLevel && r.Status == approval.StatusPending
		out = append(out, st)
	}
	return out
}

// grantView is a grant as the request and grants pages show it.
type grantView struct {
	ID        string
	Action    string
	Agent     string
	AgentID   string
	RequestID string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	Uses      int
	MaxUses   int // 0: no limit
	RevokedAt time.Time
	RevokedBy string
	Active    bool
}

// State names where the grant stands: active, revoked, used up, expired.
func (g *grantView) State() string {
	switch {
	case g.Active:
		return "active"
	case !g.RevokedAt.IsZero():
		return "revoked"
	case g.MaxUses > 0 && g.Uses >= g.MaxUses:
		return "used up"
	}
	return "expired"
}

// StateClass is State for a class name.
func (g *grantView) StateClass() string { return strings.ReplaceAll(g.State(), " ", "-") }

// UsesText is "2 of 5" or "2" (no limit).
func (g *grantView) UsesText() string {
	if g.MaxUses > 0 {
		return strconv.Itoa(g.Uses) + " of " + strconv.Itoa(g.MaxUses)
	}
	return strconv.Itoa(g.Uses)
}

func newGrantView(g *approval.Grant, agents map[string]string, now time.Time) *grantView {
	gv := &grantView{ID: g.ID, Action: g.Action, Agent: cmpOr(agents[g.AgentID], g.AgentID), AgentID: g.AgentID, RequestID: g.RequestID,
		CreatedBy: g.CreatedBy, CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt, Uses: g.Uses, RevokedAt: g.RevokedAt,
		RevokedBy: g.RevokedBy, Active: g.Active(now)}
	if g.MaxUses != nil {
		gv.MaxUses = *g.MaxUses
	}
	return gv
}

// findGrant returns grant id among the newest thousand grants of agent
// and action, or nil (there is no lookup by id in the service; one
// agent's grants for one action are few).
func (d *Dashboard) findGrant(ctx context.Context, id, agentID, action string) (*approval.Grant, error) {
	const pages = 10
	for offset := 0; offset < pages*approval.MaxPageSize; offset += approval.MaxPageSize {
		gs, total, err := d.approvals.Grants(ctx, approval.GrantFilter{AgentID: agentID, Action: action, Limit: approval.MaxPageSize, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			if g.ID == id {
				return g, nil
			}
		}
		if int64(offset+len(gs)) >= total || len(gs) == 0 {
			break
		}
	}
	return nil, nil
}

// agentNames maps key ids to key names, for grants (which store the id).
func (d *Dashboard) agentNames(ctx context.Context) (map[string]string, error) {
	keys, err := d.keys.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k.ID] = k.Name
	}
	return out, nil
}
