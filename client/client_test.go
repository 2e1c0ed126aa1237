package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/testserver"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, key string
		opts      []Option
		want      string // BaseURL, or "error"
	}{
		{"http://localhost:3000", "agk_x", nil, "http://localhost:3000"},
		{"http://localhost:3000/", "agk_x", nil, "http://localhost:3000"},
		{" https://example.com/agentgate/ ", "", nil, "https://example.com/agentgate"},
		{"localhost:3000", "agk_x", nil, "error"},
		{"ftp://example.com", "agk_x", nil, "error"},
		{"http://", "agk_x", nil, "error"},
		{"http://example.com/?x=1", "agk_x", nil, "error"},
		{"http://user:pw@example.com", "agk_x", nil, "error"},
		{"http://example.com", "agk_x\n", nil, "error"},
		{"http://example.com", "agk x", nil, "error"},
		{"http://example.com", "agk_x", []Option{WithRetry(0, time.Second, time.Second)}, "error"},
		{"http://example.com", "agk_x", []Option{WithRetry(3, time.Second, time.Millisecond)}, "error"},
		{"http://example.com", "agk_x", []Option{WithHTTPClient(nil)}, "error"},
		{"http://example.com", "agk_x", []Option{WithPollInterval(0)}, "error"},
		{"http://example.com", "agk_x", []Option{WithUserAgent("a\r\nX-Evil: 1")}, "error"},
	}
	for _, tt := range tests {
		c, err := New(tt.base, tt.key, tt.opts...)
		got := "error"
		if err == nil {
			got = c.BaseURL()
		}
		if got != tt.want {
			t.Errorf("New(%q, %q) = %q (err %v), want %q", tt.base, tt.key, got, err, tt.want)
		}
	}
}

func TestRequestLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := testCtx(t)

	// Params keep their exact bytes: a 20-digit integer and a decimal
	// that float64 cannot hold survive the round trip.
	params := json.RawMessage(`{"to":"ops@example.com","amount":12345678901234567890,"price":0.1000000000000000055511151231257827}`)
	created, err := b.agent.Request(ctx, RequestInput{
		Action:  "send_email",
		Params:  params,
		Context: map[string]any{"why": "weekly report"},
		Urgency: UrgencyHigh,
	})
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	if created.Status != StatusPending || created.Status.Final() || created.Approved() {
		t.Fatalf("new request status = %q, want pending", created.Status)
	}
	if !strings.HasPrefix(created.ID, "req_") || created.Action != "send_email" || created.Urgency != UrgencyHigh {
		t.Errorf("created = %+v", created)
	}
	if created.CreatedAt.IsZero() || !created.DecidedAt.IsZero() || created.DecidedBy != "" || created.ExpiresAt.IsZero() {
		t.Errorf("times/decider of a pending request: created %v decided %v by %q expires %v",
			created.CreatedAt, created.DecidedAt, created.DecidedBy, created.ExpiresAt)
	}
	if created.SLARemaining == nil || *created.SLARemaining <= 0 || *created.SLARemaining > time.Hour {
		t.Errorf("SLARemaining = %v, want (0, 1h]", created.SLARemaining)
	}
	if created.Agent.Name != "agent" || created.PolicyDecision.Decision != DecisionRouteToHuman || created.PolicyDecision.RuleIndex != nil {
		t.Errorf("agent %+v, policy decision %+v", created.Agent, created.PolicyDecision)
	}
	m, err := created.ParamsMap()
	if err != nil {
		t.Fatal(err)
	}
	if got := m["amount"]; got != json.Number("12345678901234567890") {
		t.Errorf("params.amount = %#v, want the exact json.Number", got)
	}
	var p struct {
		To    string      `json:"to"`
		Price json.Number `json:"price"`
	}
	if err := created.DecodeParams(&p); err != nil || p.To != "ops@example.com" || p.Price != "0.1000000000000000055511151231257827" {
		t.Errorf("DecodeParams = %+v, %v", p, err)
	}
	var rc map[string]string
	if err := created.DecodeContext(&rc); err != nil || rc["why"] != "weekly report" {
		t.Errorf("DecodeContext = %v, %v", rc, err)
	}

	got, err := b.reader.Get(ctx, created.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if d := cmp.Diff(created, got, cmp.FilterPath(func(p cmp.Path) bool {
		return p.String() == "SLARemaining" // counts down between the calls
	}, cmp.Ignore())); d != "" {
		t.Errorf("Get differs from the created request (-created +got):\n%s", d)
	}

	decided, err := b.approver.Decide(ctx, created.ID, DecideInput{Decision: StatusApproved, Reason: "looks fine", Label: "alice"})
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	me, err := b.approver.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !decided.Approved() || decided.DecidedByID != me.ID || decided.DecidedBy != "approver" ||
		decided.DecidedByType != ActorHuman || decided.DecidedByLabel != "alice" || decided.DecisionReason != "looks fine" ||
		decided.DecidedAt.IsZero() || decided.SLARemaining != nil {
		t.Errorf("decided = %+v", decided)
	}

	// A second decision is a conflict, reported with the server's words.
	_, err = b.admin.Decide(ctx, created.ID, DecideInput{Decision: StatusDenied})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("re-decide: err = %v, want ErrConflict", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict || apiErr.Message != "Request already approved" || apiErr.RequestID == "" {
		t.Errorf("re-decide error = %#v", apiErr)
	}

	events, err := b.reader.Audit(ctx, created.ID)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.EventType)
		if e.RequestID != created.ID || e.CreatedAt.IsZero() || e.ID == "" {
			t.Errorf("audit event %+v", e)
		}
	}
	if d := cmp.Diff([]string{"created", "approved"}, types); d != "" {
		t.Errorf("audit event types (-want +got):\n%s", d)
	}
	page, err := b.reader.ListAudit(ctx, AuditOptions{RequestID: created.ID})
	if err != nil || page.Page.Total != 2 || len(page.Entries) != 2 || page.Entries[0].Request == nil {
		t.Errorf("ListAudit = %+v, %v", page, err)
	}

	// The wire form survives a round trip through MarshalJSON.
	raw, err := json.Marshal(decided)
	if err != nil {
		t.Fatal(err)
	}
	var again Request
	if err := json.Unmarshal(raw, &again); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(decided, &again); d != "" {
		t.Errorf("JSON round trip (-before +after):\n%s", d)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := testCtx(t)
	pending := mustRequest(t, b.agent, RequestInput{Action: "deploy"})
	// A key that may create and decide still cannot decide its own request.
	both := mustNew(t, b.srv.URL, b.srv.CreateKey(t, "both", auth.ScopeRequestCreate, auth.ScopeRequestDecide, auth.ScopeRequestRead))
	own := mustRequest(t, both, RequestInput{Action: "deploy"})
	badKey := mustNew(t, b.srv.URL, "agk_"+strings.Repeat("A", 43))
	noKey := mustNew(t, b.srv.URL, "")

	tests := []struct {
		name    string
		call    func() error
		want    error
		status  int    // 0: not an APIError
		message string // substring of the message
	}{
		{"unknown request", func() error { _, err := b.reader.Get(ctx, "req_nope"); return err }, ErrNotFound, 404, "Request not found"},
		{"decide unknown", func() error {
			_, err := b.approver.Decide(ctx, "req_nope", DecideInput{Decision: StatusApproved})
			return err
		}, ErrNotFound, 404, "Request not found"},
		{"bad key", func() error { _, err := badKey.Get(ctx, pending.ID); return err }, ErrUnauthorized, 401, "Invalid API key"},
		{"no key", func() error { _, err := noKey.Me(ctx); return err }, ErrUnauthorized, 401, "Missing Authorization header"},
		{"missing scope", func() error {
			_, err := b.agent.Decide(ctx, pending.ID, DecideInput{Decision: StatusApproved})
			return err
		}, ErrForbidden, 403, "request:decide"},
		{"own request", func() error {
			_, err := both.Decide(ctx, own.ID, DecideInput{Decision: StatusApproved})
			return err
		}, ErrForbidden, 403, "cannot decide it"},
		{"reader cannot create", func() error { _, err := b.reader.Request(ctx, RequestInput{Action: "x"}); return err }, ErrForbidden, 403, "request:create"},
		{"admin only", func() error { _, err := b.agent.ListKeys(ctx); return err }, ErrForbidden, 403, "admin"},
		{"bad urgency", func() error { _, err := b.agent.Request(ctx, RequestInput{Action: "x", Urgency: "urgent"}); return err }, ErrInvalid, 400, "urgency must be one of"},
		{"bad page", func() error { _, err := b.reader.ListPage(ctx, ListOptions{Limit: 1000}); return err }, ErrInvalid, 400, "limit must be an integer between 1 and 100"},
		{"past expiry", func() error {
			_, err := b.agent.Request(ctx, RequestInput{Action: "x", ExpiresAt: time.Now().Add(-time.Hour)})
			return err
		}, ErrInvalid, 400, "expiresAt must be in the future"},
		// Checked before sending:
		{"no action", func() error { _, err := b.agent.Request(ctx, RequestInput{}); return err }, ErrInvalid, 0, "Action is required"},
		{"params not an object", func() error { _, err := b.agent.Request(ctx, RequestInput{Action: "x", Params: []int{1}}); return err }, nil, 0, "must encode to a JSON object"},
		{"bad decision", func() error {
			_, err := b.approver.Decide(ctx, pending.ID, DecideInput{Decision: "maybe"})
			return err
		}, ErrInvalid, 0, "Decision must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			var apiErr *APIError
			isAPI := errors.As(err, &apiErr)
			if (tt.status != 0) != isAPI || (isAPI && apiErr.StatusCode != tt.status) {
				t.Errorf("err = %#v, want status %d", err, tt.status)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err = %q, want it to contain %q", err, tt.message)
			}
			for _, s := range []error{ErrNotFound, ErrConflict, ErrUnauthorized, ErrForbidden, ErrRateLimited, ErrInvalid, ErrUnreachable} {
				if s != tt.want && tt.want != nil && errors.Is(err, s) {
					t.Errorf("err also matches %v", s)
				}
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback: below the ephemeral range, so no parallel test's
	// server can take it, and nothing listens there (connection refused).
	base := "http://127.0.0.1:1"
	rec := &sleeps{}
	c := mustNew(t, base, "agk_x", WithRetry(3, time.Millisecond, time.Millisecond))
	c.sleep = rec.sleep
	_, err := c.Get(testCtx(t), "req_1")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	var uerr *url.Error
	if !errors.As(err, &uerr) {
		t.Errorf("err = %v, want a *url.Error inside", err)
	}
	if !strings.Contains(err.Error(), "cannot reach AgentGate at "+base) {
		t.Errorf("err = %q, want it to name the server", err)
	}
	if n := len(rec.got()); n != 2 {
		t.Errorf("slept %d times, want 2 (3 attempts)", n)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := testCtx(t)
	var want []string
	for i := range 7 {
		r := mustRequest(t, b.agent, RequestInput{Action: "list_test", Params: map[string]any{"i": i}})
		want = append(want, r.ID)
	}
	mustRequest(t, b.agent, RequestInput{Action: "other"})
	slices.Reverse(want) // newest first

	page, err := b.reader.ListPage(ctx, ListOptions{Action: "list_test", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Page{Total: 7, Limit: 3, Offset: 0, HasMore: true}, page.Page); d != "" {
		t.Errorf("first page (-want +got):\n%s", d)
	}

	var got []string
	for r, err := range b.reader.List(ctx, ListOptions{Action: "list_test", Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.ID)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("List over pages of 3 (-want +got):\n%s", d)
	}

	// Oldest first, starting at an offset, stopping early.
	got = got[:0]
	for r, err := range b.reader.List(ctx, ListOptions{Action: "list_test", Limit: 2, Offset: 1, Sort: SortOldest}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.ID)
		if len(got) == 4 {
			break
		}
	}
	oldest := slices.Clone(want)
	slices.Reverse(oldest)
	if d := cmp.Diff(oldest[1:5], got); d != "" {
		t.Errorf("List oldest first from offset 1 (-want +got):\n%s", d)
	}

	// An error is yielded once and ends the iteration.
	n := 0
	for _, err := range b.agent.List(ctx, ListOptions{Status: "bogus"}) {
		n++
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("err = %v, want ErrInvalid", err)
		}
	}
	if n != 1 {
		t.Errorf("a failing List yielded %d times, want 1", n)
	}
}

func TestIdempotentRetryAfterLostAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := newProxy(t, b.srv.URL)
	var (
		mu   sync.Mutex
		keys []string
	)
	p.setIntercept(func(w http.ResponseWriter, r *http.Request, forward func(http.ResponseWriter, *http.Request)) bool {
		if r.Method != http.MethodPost || r.URL.Path != "/api/requests" {
			return false
		}
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		first := len(keys) == 1
		mu.Unlock()
		if !first {
			return false
		}
		// The server creates the request; its answer is lost on the way.
		forward(&discardResponse{}, r)
		dropConnection(w)
		return true
	})
	agentKey := b.srv.CreateKey(t, "flaky-agent", auth.ScopeRequestCreate, auth.ScopeRequestRead)
	c := mustNew(t, p.URL, agentKey, fastRetry())
	ctx := testCtx(t)

	r, err := c.Request(ctx, RequestInput{Action: "idempotent_test", Params: map[string]any{"n": 1}})
	if err != nil {
		t.Fatalf("Request through a connection that drops the first answer: %v", err)
	}
	mu.Lock()
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Errorf("Idempotency-Keys sent = %q, want two equal non-empty keys", keys)
	}
	mu.Unlock()
	page, err := b.reader.ListPage(ctx, ListOptions{Action: "idempotent_test"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Page.Total != 1 || page.Requests[0].ID != r.ID {
		t.Errorf("server holds %d requests (%v), want exactly the one returned (%s)", page.Page.Total, page.Requests, r.ID)
	}

	// A second call is a new request, with a new key.
	r2, err := c.Request(ctx, RequestInput{Action: "idempotent_test", Params: map[string]any{"n": 1}})
	if err != nil || r2.ID == r.ID {
		t.Errorf("second Request = %v, %v; want a new request", r2, err)
	}

	// A caller's own key finds the same request again, even from another
	// process; reusing it for other input is refused.
	in := RequestInput{Action: "idempotent_test", Params: map[string]any{"n": 3}, IdempotencyKey: "job-42"}
	first := mustRequest(t, c, in)
	again := mustRequest(t, c, in)
	if again.ID != first.ID {
		t.Errorf("same IdempotencyKey gave %s then %s", first.ID, again.ID)
	}
	in.Params = map[string]any{"n": 4}
	if _, err := c.Request(ctx, in); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "already used") {
		t.Errorf("reused IdempotencyKey with other params: err = %v, want ErrInvalid (422)", err)
	}
}

func TestDecideRetryAfterLostAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := newProxy(t, b.srv.URL)
	approverKey := b.srv.CreateKey(t, "flaky-approver", auth.ScopeRequestDecide, auth.ScopeRequestRead)
	c := mustNew(t, p.URL, approverKey, fastRetry())
	ctx := testCtx(t)

	var decides sync.Map // path -> attempts
	count := func(path string) int {
		v, _ := decides.LoadOrStore(path, new(int))
		n := v.(*int)
		*n++
		return *n
	}

	t.Run("our first attempt won", func(t *testing.T) {
		r := mustRequest(t, b.agent, RequestInput{Action: "decide_retry"})
		path := "/api/requests/" + r.ID + "/decide"
		p.setIntercept(func(w http.ResponseWriter, req *http.Request, forward func(http.ResponseWriter, *http.Request)) bool {
			if req.URL.Path != path || count(path) > 1 {
				return false
			}
			forward(&discardResponse{}, req) // decided, but the answer is lost
			dropConnection(w)
			return true
		})
		got, err := c.Decide(ctx, r.ID, DecideInput{Decision: StatusDenied, Reason: "no"})
		if err != nil {
			t.Fatalf("Decide: %v, want the first attempt's decision", err)
		}
		if got.Status != StatusDenied || got.DecisionReason != "no" {
			t.Errorf("Decide = %+v", got)
		}
	})

	t.Run("someone else decided first", func(t *testing.T) {
		r := mustRequest(t, b.agent, RequestInput{Action: "decide_retry"})
		path := "/api/requests/" + r.ID + "/decide"
		p.setIntercept(func(w http.ResponseWriter, req *http.Request, forward func(http.ResponseWriter, *http.Request)) bool {
			if req.URL.Path != path || count(path) > 1 {
				return false
			}
			// Our attempt is lost; meanwhile another approver decides.
			if _, err := b.approver.Decide(ctx, r.ID, DecideInput{Decision: StatusApproved}); err != nil {
				t.Errorf("other approver: %v", err)
			}
			dropConnection(w)
			return true
		})
		_, err := c.Decide(ctx, r.ID, DecideInput{Decision: StatusApproved})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("Decide = %v, want ErrConflict: another key decided", err)
		}
	})
}

func TestWaitForConcurrentDecision(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := newProxy(t, b.srv.URL)
	agent := mustNew(t, p.URL, b.srv.CreateKey(t, "waiter", auth.ScopeRequestCreate, auth.ScopeRequestRead), fastRetry())
	ctx := testCtx(t)
	r := mustRequest(t, agent, RequestInput{Action: "wait_test"})

	type result struct {
		r   *Request
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		w, err := agent.Wait(ctx, r.ID)
		done <- result{w, err, time.Now()}
	}()
	p.waitSeen(t, "GET /api/requests/"+r.ID+"/wait")
	if _, err := b.approver.Decide(ctx, r.ID, DecideInput{Decision: StatusApproved}); err != nil {
		t.Fatal(err)
	}
	decidedAt := time.Now()
	res := <-done
	if res.err != nil || !res.r.Approved() || res.r.ID != r.ID {
		t.Fatalf("Wait = %+v, %v; want the approved request", res.r, res.err)
	}
	// Reported, not asserted: speed targets live in benchmarks.
	t.Logf("Wait returned %v after Decide returned", res.at.Sub(decidedAt))
}

func TestWaitDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	r := mustRequest(t, b.agent, RequestInput{Action: "wait_deadline"})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	got, err := b.agent.Wait(ctx, r.ID, WaitLongPoll(time.Minute))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past its deadline: err = %v, want context.DeadlineExceeded", err)
	}
	if got != nil && (got.ID != r.ID || got.Status != StatusPending) {
		t.Errorf("Wait returned %+v with the deadline error, want the pending request or nil", got)
	}

	// Unknown requests end the wait at once.
	if _, err := b.agent.Wait(testCtx(t), "req_nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Wait(unknown) = %v, want ErrNotFound", err)
	}
}

func TestPolicyDecidesAtCreation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := testCtx(t)
	pol, err := b.admin.CreatePolicy(ctx, PolicyInput{
		Name:     "read-only is safe",
		Priority: new(5),
		Rules:    []Rule{{Match: map[string]any{"action": "read_file"}, Decision: DecisionAutoApprove}},
	})
	if err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}
	if pol.ID == "" || pol.Priority != 5 || !pol.Enabled || pol.Scope != "global" || len(pol.Rules) != 1 {
		t.Errorf("CreatePolicy = %+v", pol)
	}
	r, err := b.agent.RequestAndWait(ctx, RequestInput{Action: "read_file"})
	if err != nil || !r.Approved() || r.DecidedByType != ActorPolicy || r.PolicyDecision.PolicyID != pol.ID {
		t.Errorf("RequestAndWait(read_file) = %+v, %v; want approved by the policy", r, err)
	}
	dry, err := b.admin.DryRun(ctx, "", DryRunInput{Action: "read_file"})
	if err != nil || !dry.Matched || dry.Decision != DecisionAutoApprove || dry.PolicyID != pol.ID {
		t.Errorf("DryRun = %+v, %v", dry, err)
	}
	dry, err = b.admin.DryRun(ctx, pol.ID, DryRunInput{Action: "rm_rf"})
	if err != nil || dry.Matched {
		t.Errorf("DryRun(policy, rm_rf) = %+v, %v; want no match", dry, err)
	}

	got, err := b.admin.GetPolicy(ctx, pol.ID)
	if err != nil || got.Name != pol.Name {
		t.Errorf("GetPolicy = %+v, %v", got, err)
	}
	patched, err := b.admin.PatchPolicy(ctx, pol.ID, PolicyPatch{Enabled: new(false)})
	if err != nil || patched.Enabled || patched.Priority != 5 {
		t.Errorf("PatchPolicy(disable) = %+v, %v", patched, err)
	}
	replaced, err := b.admin.UpdatePolicy(ctx, pol.ID, PolicyInput{Name: "renamed", Rules: []Rule{{
		Match: map[string]any{"action": "read_file"}, Decision: DecisionRouteToHuman, Timeout: Duration(15 * time.Minute),
	}}})
	if err != nil || replaced.Name != "renamed" || replaced.Priority != 100 || !replaced.Enabled ||
		time.Duration(replaced.Rules[0].Timeout) != 15*time.Minute {
		t.Errorf("UpdatePolicy = %+v, %v", replaced, err)
	}
	list, err := b.admin.ListPolicies(ctx, PageOptions{})
	if err != nil || list.Page.Total != 1 || list.Policies[0].ID != pol.ID {
		t.Errorf("ListPolicies = %+v, %v", list, err)
	}
	if err := b.admin.DeletePolicy(ctx, pol.ID); err != nil {
		t.Errorf("DeletePolicy: %v", err)
	}
	if _, err := b.admin.GetPolicy(ctx, pol.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetPolicy after delete = %v, want ErrNotFound", err)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := testCtx(t)
	created, err := b.admin.CreateKey(ctx, KeyInput{Name: "ci-bot", Scopes: []Scope{ScopeRequestCreate}, RateLimit: new(60)})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if !strings.HasPrefix(created.Secret, "agk_") || created.ID == "" || !created.Active || *created.RateLimit != 60 {
		t.Errorf("CreateKey = %+v", created)
	}
	bot := mustNew(t, b.srv.URL, created.Secret)
	me, err := bot.Me(ctx)
	if err != nil || me.ID != created.ID || me.Name != "ci-bot" || !slices.Equal(me.Scopes, []Scope{ScopeRequestCreate}) || me.Via != "key" {
		t.Errorf("Me = %+v, %v", me, err)
	}
	updated, err := b.admin.UpdateKey(ctx, created.ID, KeyPatch{Name: new("ci-bot-2"), ClearRateLimit: true})
	if err != nil || updated.Name != "ci-bot-2" || updated.RateLimit != nil {
		t.Errorf("UpdateKey = %+v, %v", updated, err)
	}
	if err := b.admin.RevokeKey(ctx, created.ID); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	if err := b.admin.RevokeKey(ctx, created.ID); err != nil {
		t.Errorf("RevokeKey twice: %v", err)
	}
	if _, err := bot.Me(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("revoked key: Me = %v, want ErrUnauthorized", err)
	}
	keys, err := b.admin.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(keys, func(k *Key) bool { return k.ID == created.ID })
	if i < 0 || keys[i].Active || keys[i].RevokedAt.IsZero() {
		t.Errorf("ListKeys has the revoked key as %+v", keys)
	}
	h, err := mustNew(t, b.srv.URL, "").Health(ctx)
	if err != nil || h.Status != "ok" {
		t.Errorf("Health = %+v, %v", h, err)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	b := setup(t, &testserver.Options{DatabaseURL: testserver.PostgresURL(t)})
	ctx := testCtx(t)
	r := mustRequest(t, b.agent, RequestInput{Action: "pg_test", Params: map[string]any{"n": 1}})
	done := make(chan error, 1)
	go func() {
		w, err := b.agent.Wait(ctx, r.ID)
		if err == nil && w.Status != StatusDenied {
			err = fmt.Errorf("status %s, want denied", w.Status)
		}
		done <- err
	}()
	if _, err := b.approver.Decide(ctx, r.ID, DecideInput{Decision: StatusDenied, Reason: "not today"}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Wait on PostgreSQL: %v", err)
	}
	var n int
	for _, err := range b.reader.List(ctx, ListOptions{Action: "pg_test", Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("List on PostgreSQL yielded %d requests, want 1", n)
	}
}
