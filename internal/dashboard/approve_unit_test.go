package dashboard

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/policy"
)

func TestParamDiff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		before, after string
		want          []paramChange
	}{
		{"same, other order and spacing", `{"a":1,"b":{"x":[1,2]}}`, `{ "b": {"x": [1, 2]}, "a": 1 }`, nil},
		{"changed, added, removed", `{"amount":250,"to":"a@x","cc":null}`, `{"amount":200,"to":"a@x","note":"<b>hi</b>"}`, []paramChange{
			{Key: "amount", Before: "250", After: "200"},
			{Key: "cc", Before: "null", Removed: true},
			{Key: "note", After: `"<b>hi</b>"`, Added: true},
		}},
		{"null is a value", `{"a":1}`, `{"a":null}`, []paramChange{{Key: "a", Before: "1", After: "null"}}},
		{"numbers as written", `{"n":1.0}`, `{"n":1}`, []paramChange{{Key: "n", Before: "1.0", After: "1"}}},
		{"nested change shows the member", `{"o":{"x":1}}`, `{"o":{"x":2}}`, []paramChange{{Key: "o", Before: `{"x":1}`, After: `{"x":2}`}}},
		{"not objects", `[1]`, `{"a":1}`, []paramChange{{Key: "a", After: "1", Added: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := paramDiff(json.RawMessage(tt.before), json.RawMessage(tt.after))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("paramDiff\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	long := `{"q":"` + strings.Repeat("x", 1000) + `"}`
	if d := paramDiff(json.RawMessage(`{"q":"a"}`), json.RawMessage(long)); len([]rune(d[0].After)) > diffValueLength+1 {
		t.Errorf("a long value is not cut: %d characters", len(d[0].After))
	}
}

func TestApprovalForm(t *testing.T) {
	t.Parallel()
	original := json.RawMessage(`{"amount":250,"currency":"EUR"}`)
	tests := []struct {
		name      string
		form      approvalForm
		wantRaw   string
		wantGrant *approval.GrantInput
		wantErr   string
		wantEdit  bool // the error belongs next to the editor
	}{
		{name: "nothing"},
		{name: "unchanged text", form: approvalForm{Params: "{\n  \"currency\": \"EUR\",\n  \"amount\": 250\n}"}},
		{name: "edited, order kept", form: approvalForm{Params: `{ "currency": "EUR", "amount": 1e2 }`}, wantRaw: `{"currency":"EUR","amount":1e2}`},
		{name: "syntax", form: approvalForm{Params: "{\n  \"amount\": ,\n}"}, wantErr: "line 2", wantEdit: true},
		{name: "array", form: approvalForm{Params: `[]`}, wantErr: "must be a JSON object", wantEdit: true},
		{name: "null", form: approvalForm{Params: `null`}, wantErr: "must be a JSON object", wantEdit: true},
		{name: "trailing", form: approvalForm{Params: `{} x`}, wantErr: "exactly one", wantEdit: true},
		{name: "grant", form: approvalForm{Grant: "15m"}, wantGrant: &approval.GrantInput{Duration: 15 * time.Minute}},
		{name: "grant with uses", form: approvalForm{Grant: "24h", GrantUses: "7"}, wantGrant: &approval.GrantInput{Duration: 24 * time.Hour, MaxUses: ptr(7)}},
		{name: "grant not offered", form: approvalForm{Grant: "2h"}, wantErr: "Choose how long"},
		{name: "grant not a duration", form: approvalForm{Grant: "forever"}, wantErr: "Choose how long"},
		{name: "uses not a number", form: approvalForm{Grant: "1h", GrantUses: "many"}, wantErr: "Max uses"},
		{name: "too many uses", form: approvalForm{Grant: "1h", GrantUses: "100001"}, wantErr: "Max uses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in approval.DecideInput
			err := tt.form.apply(&in, original)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(approval.ErrorMessage(err), tt.wantErr) || approval.ErrorCode(err) != approval.CodeInvalid {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if _, isEdit := err.(*editError); isEdit != tt.wantEdit {
					t.Errorf("editor error %v, want %v", isEdit, tt.wantEdit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(in.RawParams) != tt.wantRaw {
				t.Errorf("params %s, want %s", in.RawParams, tt.wantRaw)
			}
			if !reflect.DeepEqual(in.Grant, tt.wantGrant) {
				t.Errorf("grant %+v, want %+v", in.Grant, tt.wantGrant)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestMayDecide(t *testing.T) {
	t.Parallel()
	p := &auth.Principal{KeyID: "key_1", Name: "alice"}
	tests := []struct {
		list []approverView
		want bool
	}{
		{nil, true},
		{[]approverView{{Name: "bob"}}, false},
		{[]approverView{{Name: "alice"}}, true},
		{[]approverView{{Name: "key_1"}}, true},
		{[]approverView{{Name: "group:fin", Group: true, Members: []string{"bob", "alice"}}}, true},
		{[]approverView{{Name: "group:none", Group: true, Missing: true}}, false},
		// A group's name is not a member.
		{[]approverView{{Name: "alice", Group: true, Members: []string{"bob"}}}, false},
	}
	for i, tt := range tests {
		if got := mayDecide(tt.list, p); got != tt.want {
			t.Errorf("%d: mayDecide(%+v) = %v, want %v", i, tt.list, got, tt.want)
		}
	}
}

func TestEscalationSteps(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r := &approval.Request{CreatedAt: created, Status: approval.StatusPending, EscalationLevel: 1, PolicyDecision: approval.PolicyDecision{
		Escalate: []policy.Escalation{
			{After: policy.Duration(15 * time.Minute), To: []string{"slack:#oncall"}},
			{After: policy.Duration(time.Hour), To: []string{"email:cto@example.com"}},
			{After: policy.Duration(2 * time.Hour), To: []string{"slack:#incidents"}},
		}}}
	firedAt := created.Add(16 * time.Minute)
	got := escalationSteps(r, map[int]time.Time{1: firedAt})
	want := []escalationStep{
		{N: 1, After: "15 min", To: []string{"slack:#oncall"}, Due: created.Add(15 * time.Minute), Fired: true, FiredAt: firedAt},
		{N: 2, After: "1 h", To: []string{"email:cto@example.com"}, Due: created.Add(time.Hour), Next: true},
		{N: 3, After: "2 h", To: []string{"slack:#incidents"}, Due: created.Add(2 * time.Hour)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("steps\n got %+v\nwant %+v", got, want)
	}
	r.Status = approval.StatusApproved
	if steps := escalationSteps(r, nil); steps[1].Next || !steps[0].Fired {
		t.Errorf("after the decision: %+v", steps)
	}
}

func TestBatchOutcome(t *testing.T) {
	t.Parallel()
	pending := &approval.Request{Status: approval.StatusPending, ApprovalVotes: 1,
		PolicyDecision: approval.PolicyDecision{Approvals: &policy.Quorum{Required: 3}}}
	tests := []struct {
		res                 approval.BatchResult
		wantOutcome, wantLb string
	}{
		{approval.BatchResult{Request: &approval.Request{Status: approval.StatusApproved}}, "approved", "approved"},
		{approval.BatchResult{Request: pending}, "voted", "vote recorded (1 of 3)"},
		{approval.BatchResult{Err: approval.Errorf(approval.CodeConflict, "Request already denied")}, "skipped", "skipped: already decided"},
		{approval.BatchResult{Err: approval.Errorf(approval.CodeConflict, "you have already approved this request (1 of 2 approvals so far)")}, "skipped", "skipped: you already approved"},
		{approval.BatchResult{Err: approval.Errorf(approval.CodeForbidden, "the identity that created a request cannot decide it")}, "forbidden", "forbidden: your own request"},
		{approval.BatchResult{Err: approval.Errorf(approval.CodeForbidden, "only the rule's approvers may decide this request (bob)")}, "forbidden", "forbidden: not an approver"},
		{approval.BatchResult{Err: approval.Errorf(approval.CodeInvalid, "a reason is required to decide this request")}, "skipped", "skipped: requires a reason"},
		{approval.BatchResult{Err: approval.Errorf(approval.CodeNotFound, "Request not found")}, "skipped", "skipped: not found"},
		{approval.BatchResult{Err: approval.Errorf(approval.CodeUnavailable, "database is busy")}, "failed", "failed: database is busy"},
	}
	for _, tt := range tests {
		o, l := batchOutcome(tt.res)
		if o != tt.wantOutcome || l != tt.wantLb {
			t.Errorf("batchOutcome(%v) = %q, %q; want %q, %q", tt.res.Err, o, l, tt.wantOutcome, tt.wantLb)
		}
	}
}

func TestSmallHelpers(t *testing.T) {
	t.Parallel()
	if got := splitMembers("alice\r\n bob ,email:c@x\n\n,"); !reflect.DeepEqual(got, []string{"alice", "bob", "email:c@x"}) {
		t.Errorf("splitMembers = %q", got)
	}
	for in, want := range map[string]string{
		"req_01a216cc-894d-761b-a5d3-b2035cdec221": "req_…5cdec221", "grt_short": "grt_short", "noprefix-0123456789abcdef": "noprefix-0123456789abcdef",
	} {
		if got := shortID(in); got != want {
			t.Errorf("shortID(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tt := range []struct{ query, want string }{
		{"toast=voted&votes=1&of=2", "Your approval is recorded (1 of 2)."},
		{"toast=voted", toasts["voted"]},
		{"toast=voted&votes=2&of=2", toasts["voted"]}, // a vote that completes is no vote toast
		{"toast=voted&votes=x&of=2", toasts["voted"]},
		{"toast=approved-edited", toasts["approved-edited"]},
		{"toast=nope", ""},
	} {
		if got := toastFrom(httptest.NewRequest("GET", "/?"+tt.query, nil)); got != tt.want {
			t.Errorf("toastFrom(%s) = %q, want %q", tt.query, got, tt.want)
		}
	}
	if got := editRows("{}"); got != 6 {
		t.Errorf("editRows of a short text = %d", got)
	}
	if got := editRows(strings.Repeat("\n", 100)); got != 24 {
		t.Errorf("editRows of a long text = %d", got)
	}
	g := &grantView{MaxUses: 3, Uses: 3}
	if g.State() != "used up" || g.StateClass() != "used-up" || g.UsesText() != "3 of 3" {
		t.Errorf("used-up grant: %s %s %s", g.State(), g.StateClass(), g.UsesText())
	}
}
