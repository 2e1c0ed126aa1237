package dashboard_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/policy"
	"github.com/agentgate/agentgate/internal/testserver"
)

// refundPolicies deny refunds over 1,000 at once, ask a person for the
// rest, need two (payout) or three (payout3) approvals for payouts, and
// a reason for wipes.
func refundPolicies(t *testing.T, srv *testserver.Server) {
	t.Helper()
	admin := approval.Actor{ID: "test", Name: "test", Type: approval.ActorHuman}
	if _, err := srv.App.Approvals.CreatePolicy(t.Context(), admin, policy.Policy{Name: "refunds", Priority: 1, Enabled: true,
		Rules: []policy.Rule{
			{Match: map[string]any{"action": "refund", "params.amount": map[string]any{"$gt": 1000}}, Decision: policy.AutoDeny},
			{Match: map[string]any{"action": "refund"}, Decision: policy.RouteToHuman},
			{Match: map[string]any{"action": "payout"}, Decision: policy.RouteToHuman, Approvals: &policy.Quorum{Required: 2}},
			{Match: map[string]any{"action": "payout3"}, Decision: policy.RouteToHuman, Approvals: &policy.Quorum{Required: 3}},
			{Match: map[string]any{"action": "wipe"}, Decision: policy.RouteToHuman, RequireReason: true},
		}}); err != nil {
		t.Fatal(err)
	}
}

// TestDecideWithEditsAndGrants covers the request page's approval form
// without the script (redirects and the page again with the error) and
// with it (JSON): edited params, refused edits, and grants.
func TestDecideWithEditsAndGrants(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	refundPolicies(t, f.srv)
	c := newClient(t, f.srv, f.approver)
	const original = `{"amount":250,"currency":"EUR","order":"o-1"}`
	tests := []struct {
		name       string
		action     string
		form       url.Values
		json       bool
		want       int
		wantText   []string // in the answer (HTML-unescaped)
		wantTo     string   // Location, with {id}
		wantStatus approval.Status
		wantParams string // the approved params; "" for none
		wantGrant  bool
	}{
		{name: "editor text unchanged is no edit", form: url.Values{"decision": {"approved"}, "params": {"{\n  \"amount\": 250,\n  \"currency\": \"EUR\",\n  \"order\": \"o-1\"\n}"}},
			want: 303, wantTo: "/?toast=approved", wantStatus: approval.StatusApproved},
		{name: "edited", form: url.Values{"decision": {"approved"}, "params": {`{"amount": 200, "currency": "EUR", "order": "o-1", "note": "partial"}`}},
			want: 303, wantTo: "/requests/{id}?toast=approved-edited", wantStatus: approval.StatusApproved,
			wantParams: `{"amount":200,"currency":"EUR","order":"o-1","note":"partial"}`},
		{name: "edited (json)", form: url.Values{"decision": {"approved"}, "params": {`{"amount": 100}`}}, json: true,
			want: 200, wantText: []string{`"edited":true`}, wantStatus: approval.StatusApproved, wantParams: `{"amount":100}`},
		{name: "bad JSON", form: url.Values{"decision": {"approved"}, "params": {`{"amount": 200,}`}},
			want: 400, wantText: []string{"Params: JSON syntax error at line 1", `id="params-error"`, `{"amount": 200,}</textarea>`, "<details class=\"edit-params\" data-edit-params open>"},
			wantStatus: approval.StatusPending},
		{name: "not an object", form: url.Values{"decision": {"approved"}, "params": {`[1, 2]`}},
			want: 400, wantText: []string{"Params must be a JSON object"}, wantStatus: approval.StatusPending},
		{name: "two objects", form: url.Values{"decision": {"approved"}, "params": {`{} {}`}},
			want: 400, wantText: []string{"exactly one JSON object"}, wantStatus: approval.StatusPending},
		{name: "edit the policies deny", form: url.Values{"decision": {"approved"}, "params": {`{"amount": 5000, "currency": "EUR", "order": "o-1"}`}},
			want: 422, wantText: []string{"the edited request would be denied", `id="params-error"`, `"amount": 5000`}, wantStatus: approval.StatusPending},
		{name: "edit the policies deny (json)", form: url.Values{"decision": {"approved"}, "params": {`{"amount": 5000}`}}, json: true,
			want: 422, wantText: []string{`"field":"params"`, "the edited request would be denied"}, wantStatus: approval.StatusPending},
		{name: "bad JSON (json)", form: url.Values{"decision": {"approved"}, "params": {`{`}}, json: true,
			want: 400, wantText: []string{`"field":"params"`, "Params:"}, wantStatus: approval.StatusPending},
		{name: "deny ignores the editor", form: url.Values{"decision": {"denied"}, "reason": {"no"}, "params": {`{"amount": 1}`}, "grant": {"1h"}},
			want: 303, wantTo: "/?toast=denied", wantStatus: approval.StatusDenied},
		{name: "grant of an unknown length", form: url.Values{"decision": {"approved"}, "grant": {"720h"}},
			want: 400, wantText: []string{"Choose how long"}, wantStatus: approval.StatusPending},
		{name: "grant with bad max uses", form: url.Values{"decision": {"approved"}, "grant": {"15m"}, "grantUses": {"0"}},
			want: 400, wantText: []string{"Max uses must be a whole number"}, wantStatus: approval.StatusPending},
		{name: "quorum cannot be edited", action: "payout", form: url.Values{"decision": {"approved"}, "params": {`{"amount": 1}`}},
			want: 409, wantText: []string{"needs 2 approvals"}, wantStatus: approval.StatusPending},
		{name: "quorum vote stays on the request", action: "payout", form: url.Values{"decision": {"approved"}, "next": {"/"}, "afterVote": {"/requests/x"}},
			want: 303, wantTo: "/requests/x?of=2&toast=voted&votes=1", wantStatus: approval.StatusPending},
		// Last: from here on the grant approves deploy-bot's refunds.
		{name: "grant", form: url.Values{"decision": {"approved"}, "grant": {"1h"}, "grantUses": {"3"}},
			want: 303, wantTo: "/requests/{id}?toast=approved-grant", wantStatus: approval.StatusApproved, wantGrant: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			action := cmpOr(tt.action, "refund")
			id := f.request(t, `{"action":"`+action+`","params":`+original+`}`)
			var hdr []string
			if tt.json {
				hdr = []string{"Accept", "application/json"}
			}
			p := c.post("/requests/"+id+"/decide", tt.form, hdr...)
			if p.status != tt.want {
				t.Fatalf("status %d, want %d: %s", p.status, tt.want, p.body)
			}
			body := html.UnescapeString(p.body)
			for _, w := range tt.wantText {
				if !strings.Contains(body, html.UnescapeString(w)) {
					t.Errorf("answer lacks %q", w)
				}
			}
			if tt.wantTo != "" {
				if got, want := p.header.Get("Location"), strings.ReplaceAll(tt.wantTo, "{id}", id); got != want {
					t.Errorf("Location %q, want %q", got, want)
				}
			}
			r, err := f.srv.App.Approvals.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.wantStatus {
				t.Errorf("status %s, want %s", r.Status, tt.wantStatus)
			}
			if string(r.ApprovedParams) != tt.wantParams {
				t.Errorf("approved params %s, want %q", r.ApprovedParams, tt.wantParams)
			}
			gs, _, err := f.srv.App.Approvals.Grants(t.Context(), approval.GrantFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var grant *approval.Grant
			for _, g := range gs {
				if g.RequestID == id {
					grant = g
				}
			}
			if (grant != nil) != tt.wantGrant {
				t.Fatalf("grant %+v, want one: %v", grant, tt.wantGrant)
			}
			if grant != nil && (grant.MaxUses == nil || *grant.MaxUses != 3 || grant.Action != "refund") {
				t.Errorf("grant %+v, want 3 uses of refund", grant)
			}
		})
	}
}

// TestRequestPageShowsEditsGrantsQuorum renders what the approval
// features leave behind: the diff of an edited approval (panel and
// timeline), the grant that approved a request and the one an approval
// gave, and a quorum's progress with who may vote.
func TestRequestPageShowsEditsGrantsQuorum(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	refundPolicies(t, f.srv)
	ctx := t.Context()
	svc := f.srv.App.Approvals
	bob := approval.Actor{ID: "key_bob", Name: "bob", Type: approval.ActorHuman, Channel: "slack"}
	c := newClient(t, f.srv, f.approver)

	edited := f.request(t, `{"action":"refund","params":{"amount":250,"currency":"EUR"}}`)
	if _, err := svc.Decide(ctx, bob, edited, approval.DecideInput{Decision: approval.StatusApproved,
		RawParams: json.RawMessage(`{"amount":200,"currency":"EUR","note":"partial"}`)}); err != nil {
		t.Fatal(err)
	}
	p := c.get("/requests/" + edited)
	body := html.UnescapeString(p.body)
	for _, want := range []string{"Approved with edited params", "Approved with edited params by bob", `<del class="diff-before mono"><span class="sr-only">was </span>250</del>`,
		`<ins class="diff-after mono"><span class="sr-only">now </span>200</ins>`, `<span class="diff-key mono">note</span>`, "As the agent asked"} {
		if !strings.Contains(body, want) {
			t.Errorf("edited request page lacks %q", want)
		}
	}
	if n := strings.Count(body, `<ul class="diff">`); n != 2 {
		t.Errorf("%d diffs, want the panel's and the timeline's", n)
	}

	given := f.request(t, `{"action":"refund","params":{"amount":10}}`)
	if _, err := svc.Decide(ctx, bob, given, approval.DecideInput{Decision: approval.StatusApproved, Grant: &approval.GrantInput{Duration: 3600e9}}); err != nil {
		t.Fatal(err)
	}
	auto := f.request(t, `{"action":"refund","params":{"amount":20}}`)
	r, err := svc.Get(ctx, auto)
	if err != nil || r.DecidedByType != approval.ActorGrant {
		t.Fatalf("the grant did not approve the next refund: %v %v", r.DecidedByType, err)
	}
	p = c.get("/requests/" + auto)
	for _, want := range []string{`href="/grants#g-` + r.GrantID + `"`, "Given by <strong>bob</strong>", `href="/requests/` + given + `"`, "Used 1", "by grant " + r.GrantID} {
		if !strings.Contains(p.body, want) {
			t.Errorf("grant-approved page lacks %q", want)
		}
	}
	p = c.get("/requests/" + given)
	for _, want := range []string{"Grant given", "Grant given by bob", `href="/grants#g-` + r.GrantID + `"`, "Manage or revoke it"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("granting request's page lacks %q", want)
		}
	}

	payout := f.request(t, `{"action":"payout","params":{"amount":5}}`)
	if _, err := svc.Decide(ctx, bob, payout, approval.DecideInput{Decision: approval.StatusApproved}); err != nil {
		t.Fatal(err)
	}
	p = c.get("/requests/" + payout)
	for _, want := range []string{`<progress class="quorum-bar" value="1" max="2"`, "Approved by <span class=\"strong\">bob</span>", "Needs 1 more", "Approved (1 of 2) by bob"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("quorum page lacks %q", want)
		}
	}
	if strings.Contains(p.body, `id="params-edit"`) || strings.Contains(p.body, `name="grant"`) {
		t.Error("a quorum request offers to edit params or give a grant")
	}
	// alice's vote completes it: the page lists both votes.
	if p := c.post("/requests/"+payout+"/decide", url.Values{"decision": {"approved"}, "afterVote": {"/requests/" + payout}}); p.status != 303 || p.header.Get("Location") != "/?toast=approved" {
		t.Fatalf("deciding vote: %d %s", p.status, p.header.Get("Location"))
	}
	if p := c.get("/requests/" + payout); !strings.Contains(p.body, "bob, alice <span class=\"muted\">(2 of 2)</span>") {
		t.Error("the decided quorum request does not list its votes")
	}
	// On a quorum of three, alice's vote is recorded and the page says so.
	payout3 := f.request(t, `{"action":"payout3"}`)
	if p := c.post("/requests/"+payout3+"/decide", url.Values{"decision": {"approved"}, "afterVote": {"/requests/" + payout3}}); p.status != 303 ||
		p.header.Get("Location") != "/requests/"+payout3+"?of=3&toast=voted&votes=1" {
		t.Fatalf("vote: %d %s", p.status, p.header.Get("Location"))
	}
	p = c.get("/requests/" + payout3 + "?toast=voted&votes=1&of=3")
	for _, want := range []string{"Your approval is recorded (1 of 3).", "Your approval is recorded (1 of 3). Waiting for 2 more."} {
		if !strings.Contains(p.body, want) {
			t.Errorf("voted page lacks %q", want)
		}
	}
	if strings.Contains(p.body, "data-approve") {
		t.Error("the page offers a second approval to who already voted")
	}
	if p := c.get("/requests/" + payout + "?toast=voted&votes=1&of=2"); !strings.Contains(p.body, "Your approval is recorded (1 of 2).") {
		t.Error("the vote toast lacks its count")
	}
	if p := c.get("/?toast=voted&votes=<b>&of=2"); strings.Contains(p.body, "<b>") || !strings.Contains(p.body, "Your approval is recorded; the request waits") {
		t.Error("a crafted vote toast was shown")
	}
}

// TestBatchDecide posts the queue's bulk form: per-request outcomes, the
// reason a bulk deny needs, and the same CSRF and scope checks as every
// form.
func TestBatchDecide(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	refundPolicies(t, f.srv)
	c := newClient(t, f.srv, f.approver)
	ok1 := f.request(t, `{"action":"refund","params":{"amount":1}}`)
	ok2 := f.request(t, `{"action":"send_email"}`)
	vote := f.request(t, `{"action":"payout"}`)
	needsReason := f.request(t, `{"action":"wipe"}`)
	decided := f.request(t, `{"action":"send_email"}`)
	if st, m := apiCall(t, "POST", f.srv.URL+"/api/requests/"+decided+"/decide", f.srv.AdminKey, `{"decision":"denied"}`); st != 200 {
		t.Fatalf("setup: %d %v", st, m)
	}
	selfKey := f.srv.CreateKey(t, "self", auth.ScopeRequestCreate, auth.ScopeRequestDecide)
	own := createRequest(t, f.srv, selfKey, `{"action":"send_email"}`)
	ids := url.Values{"id": {ok1, ok2, vote, needsReason, decided, "req_missing"}, "decision": {"approved"}}

	// Refused before anything is decided.
	if p := c.post("/requests/batch", ids, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
		t.Errorf("cross-site batch: %d, want 403", p.status)
	}
	if p := newClient(t, f.srv, "").post("/requests/batch", ids); p.status != http.StatusUnauthorized {
		t.Errorf("batch without a session: %d, want 401", p.status)
	}
	if p := c.post("/requests/batch", url.Values{"decision": {"approved"}}); p.status != 400 || !strings.Contains(p.body, "Select the requests") {
		t.Errorf("empty batch: %d", p.status)
	}
	p := c.post("/requests/batch", url.Values{"id": {ok1}, "decision": {"denied"}, "reason": {"  "}})
	if p.status != 400 || !strings.Contains(p.body, "Add a reason to deny") || !strings.Contains(p.body, `id="bulk-error"`) {
		t.Errorf("bulk deny without a reason: %d", p.status)
	}
	if p := c.post("/requests/batch", url.Values{"id": {ok1}, "decision": {"denied"}}, "Accept", "application/json"); p.status != 400 || !strings.Contains(p.body, `"error":"Add a reason`) {
		t.Errorf("bulk deny without a reason (json): %d %s", p.status, p.body)
	}
	if r, _ := f.srv.App.Approvals.Get(t.Context(), ok1); r.Status != approval.StatusPending {
		t.Fatalf("a refused batch decided %s", ok1)
	}

	p = c.post("/requests/batch", ids, "Accept", "application/json")
	if p.status != 200 {
		t.Fatalf("batch: %d %s", p.status, p.body)
	}
	var got struct {
		Results []struct{ ID, Action, Outcome, Label, Message string }
		Done    int
		Failed  int
		Summary string
	}
	if err := json.Unmarshal([]byte(p.body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		ok1: "approved", ok2: "approved", vote: "vote recorded (1 of 2)", needsReason: "skipped: requires a reason",
		decided: "skipped: already decided", "req_missing": "skipped: not found",
	}
	if len(got.Results) != len(want) || got.Done != 3 || got.Failed != 3 {
		t.Fatalf("results %+v", got)
	}
	for _, r := range got.Results {
		if r.Label != want[r.ID] {
			t.Errorf("%s (%s): %q, want %q", r.ID, r.Action, r.Label, want[r.ID])
		}
	}
	if got.Summary != "2 approved · 1 vote recorded · 3 skipped" {
		t.Errorf("summary %q", got.Summary)
	}
	// Without the script: the queue again, with every outcome listed. The
	// key that asked cannot decide its own request.
	p = newClient(t, f.srv, selfKey).post("/requests/batch", url.Values{"id": {own, needsReason}, "decision": {"denied"}, "reason": {"not now"}})
	if p.status != 200 {
		t.Fatalf("form batch: %d", p.status)
	}
	for _, w := range []string{"1 forbidden · 1 denied", "forbidden: your own request", `<ul class="cards" id="queue"`} {
		if !strings.Contains(p.body, w) {
			t.Errorf("batch answer lacks %q", w)
		}
	}
	for id, st := range map[string]approval.Status{ok1: approval.StatusApproved, vote: approval.StatusPending, needsReason: approval.StatusDenied, own: approval.StatusPending} {
		if r, _ := f.srv.App.Approvals.Get(t.Context(), id); r.Status != st {
			t.Errorf("%s: %s, want %s", id, r.Status, st)
		}
	}
}

// TestGrantsPage lists grants for request:read and revokes them with
// request:decide through a same-site form.
func TestGrantsPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	refundPolicies(t, f.srv)
	c := newClient(t, f.srv, f.approver)
	id := f.request(t, `{"action":"refund","params":{"amount":1}}`)
	if p := c.post("/requests/"+id+"/decide", url.Values{"decision": {"approved"}, "grant": {"4h"}, "grantUses": {"5"}}); p.status != 303 {
		t.Fatalf("approve with a grant: %d %s", p.status, p.body)
	}
	gs, _, err := f.srv.App.Approvals.Grants(t.Context(), approval.GrantFilter{Limit: 10})
	if err != nil || len(gs) != 1 {
		t.Fatalf("grants %v %v", gs, err)
	}
	g := gs[0]
	p := c.get("/grants")
	if p.status != 200 {
		t.Fatalf("grants page: %d", p.status)
	}
	for _, w := range []string{`id="g-` + g.ID + `"`, "deploy-bot", "0 of 5", `href="/requests/` + id + `"`, `action="/grants/` + g.ID + `/revoke"`, "1 grant approves requests now"} {
		if !strings.Contains(p.body, w) {
			t.Errorf("grants page lacks %q", w)
		}
	}
	if p := newClient(t, f.srv, f.srv.CreateKey(t, "decider", auth.ScopeRequestDecide)).get("/grants"); p.status != 403 {
		t.Errorf("grants page without request:read: %d, want 403", p.status)
	}
	if p := c.post("/grants/"+g.ID+"/revoke", url.Values{}, "Origin", "https://evil.example"); p.status != 403 {
		t.Errorf("cross-site revoke: %d, want 403", p.status)
	}
	if p := c.post("/grants/grt_nope/revoke", url.Values{}); p.status != 404 {
		t.Errorf("unknown grant: %d, want 404", p.status)
	}
	if gs, _, _ := f.srv.App.Approvals.Grants(t.Context(), approval.GrantFilter{ActiveOnly: true, Limit: 10}); len(gs) != 1 {
		t.Fatal("a refused revoke ended the grant")
	}
	if p := c.post("/grants/"+g.ID+"/revoke", url.Values{}); p.status != 303 || p.header.Get("Location") != "/grants?toast=grant-revoked" {
		t.Fatalf("revoke: %d %s", p.status, p.header.Get("Location"))
	}
	p = c.get("/grants")
	if !strings.Contains(p.body, "none right now") || !strings.Contains(p.body, `gs-revoked`) || !strings.Contains(p.body, "by alice") {
		t.Error("the revoked grant is not listed as ended")
	}
	// The next refund goes to a person again.
	next := f.request(t, `{"action":"refund","params":{"amount":1}}`)
	if r, _ := f.srv.App.Approvals.Get(t.Context(), next); r.Status != approval.StatusPending {
		t.Errorf("after the revoke: %s", r.Status)
	}
}

// TestGroupsSection manages approver groups on the policies page: admin
// only, same-site forms, errors next to the form, file groups read-only.
func TestGroupsSection(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	if err := f.srv.App.Approvals.SyncFileGroups(t.Context(), map[string][]string{"security": {"email:sec@example.com"}}); err != nil {
		t.Fatal(err)
	}
	admin := newClient(t, f.srv, f.srv.AdminKey)
	approver := newClient(t, f.srv, f.approver)
	create := url.Values{"mode": {"create"}, "name": {"finance-leads"}, "members": {"alice\r\nbob, email:carol@example.com\n\n"}}
	if p := approver.post("/groups", create); p.status != 403 {
		t.Errorf("non-admin create: %d, want 403", p.status)
	}
	if p := admin.post("/groups", create, "Sec-Fetch-Site", "cross-site"); p.status != 403 {
		t.Errorf("cross-site create: %d, want 403", p.status)
	}
	p := admin.post("/groups", create)
	if p.status != 303 || p.header.Get("Location") != "/policies?toast=group-saved#group-finance-leads" {
		t.Fatalf("create: %d %s %s", p.status, p.header.Get("Location"), p.body)
	}
	members := func(name string) []string {
		gs, err := f.srv.App.Approvals.Groups(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if g.Name == name {
				return g.Members
			}
		}
		return nil
	}
	if got := strings.Join(members("finance-leads"), "|"); got != "alice|bob|email:carol@example.com" {
		t.Errorf("members %q", got)
	}
	tests := []struct {
		name     string
		path     string
		form     url.Values
		want     int
		wantText string
	}{
		{"name in use", "/groups", create, 409, "already exists"},
		{"bad name", "/groups", url.Values{"mode": {"create"}, "name": {"Finance Leads"}, "members": {"alice"}}, 400, "group name must be"},
		{"no members", "/groups", url.Values{"mode": {"create"}, "name": {"empty"}, "members": {" \n "}}, 400, "members must list"},
		{"file group is read-only", "/groups", url.Values{"name": {"security"}, "members": {"alice"}}, 409, "managed by the policy file"},
		{"file group cannot be deleted", "/groups/security/delete", url.Values{}, 409, "managed by the policy file"},
		{"edit members", "/groups", url.Values{"name": {"finance-leads"}, "members": {"dave"}}, 303, ""},
		{"delete unknown", "/groups/nope/delete", url.Values{}, 404, "Group not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := admin.post(tt.path, tt.form)
			if p.status != tt.want {
				t.Fatalf("status %d, want %d: %s", p.status, tt.want, p.body)
			}
			if tt.wantText != "" && !strings.Contains(p.body, tt.wantText) {
				t.Errorf("answer lacks %q", tt.wantText)
			}
			if p.status >= 400 && p.status != 404 && !strings.Contains(p.body, `role="alert"`) {
				t.Error("the error is not shown next to the form")
			}
		})
	}
	if got := strings.Join(members("finance-leads"), "|"); got != "dave" {
		t.Errorf("after the edit: %q", got)
	}
	page := admin.get("/policies")
	for _, w := range []string{`id="group-finance-leads"`, `id="group-security"`, "file · read-only", `action="/groups/finance-leads/delete"`} {
		if !strings.Contains(page.body, w) {
			t.Errorf("policies page lacks %q", w)
		}
	}
	if strings.Contains(page.body, `action="/groups/security/delete"`) {
		t.Error("the file group offers a delete button")
	}
	if p := approver.post("/groups/finance-leads/delete", url.Values{}); p.status != 403 {
		t.Errorf("non-admin delete: %d", p.status)
	}
	if p := admin.post("/groups/finance-leads/delete", url.Values{}); p.status != 303 {
		t.Fatalf("delete: %d", p.status)
	}
	if members("finance-leads") != nil {
		t.Error("the group is still there")
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
