package wire

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/policy"
)

// stdJSON is what writeJSON sends: encoding/json with HTML escaping,
// without the trailing newline.
func stdJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// checkSame compares v's AppendJSON with encoding/json.
func checkSame(t *testing.T, name string, v interface{ AppendJSON([]byte) ([]byte, error) }) {
	t.Helper()
	got, err := v.AppendJSON(nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if want := stdJSON(t, v); !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
	if !json.Valid(got) {
		t.Errorf("%s: invalid JSON %s", name, got)
	}
}

func TestAppendJSON(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 26, 9, 30, 1, 123456789, time.FixedZone("x", 3600))
	ri := 2
	full := approval.Request{
		ID: "req_1", Action: `deploy <prod> & "quoted" \ back`, Params: json.RawMessage(`{"a": 1, "s": "x < y & z", "n": [1, 2, {"k": " spaced \" out "}]}`),
		Context: json.RawMessage("{\"line\":\"a\u2028b\u2029c\",\n \"t\":\t\"tab\"}"),
		Status:  approval.StatusApproved, Urgency: approval.UrgencyCritical,
		CreatedAt: created, UpdatedAt: created.Add(time.Second), DecidedAt: created.Add(2 * time.Second),
		DecidedBy: "alice", DecidedByID: "key_1", DecidedByType: approval.ActorHuman, DecidedByLabel: "Alice <a@x>",
		DecisionReason: "ok\n\tfine\u0001\u007f\b\f\r", ExpiresAt: created.Add(time.Hour),
		PolicyDecision: approval.PolicyDecision{Decision: "route_to_human", PolicyID: "pol_1", PolicyName: "p<1>", RuleIndex: &ri,
			Reason: "matched", Approvers: []string{"bob"}, Channels: []string{"slack:#ops"}, RequireReason: true, OnTimeout: "deny",
			Approvals: &policy.Quorum{Required: 2, From: []string{"ops"}}, Escalate: []policy.Escalation{{After: policy.Duration(15 * time.Minute), To: []string{"email:l@x"}}}},
		AgentID: "key_a", AgentName: "agent \xff\xfe bad utf8", ApprovedParams: json.RawMessage(`{"a":2}`),
		ApprovalVotes: 1, EscalationLevel: 2, GrantID: "gr_1",
	}
	pending := approval.Request{ID: "req_2", Action: "a", Status: approval.StatusPending, Urgency: approval.UrgencyNormal,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(time.Minute)}
	cases := map[string]approval.Request{
		"everything set": full,
		"pending, empty params and context, no decision": pending,
		"no expiry": {ID: "req_3", Action: "b", Status: approval.StatusDenied, CreatedAt: created},
		"a simple policy decision with every scalar": {ID: "req_4", Action: "c", Status: approval.StatusPending,
			PolicyDecision: approval.PolicyDecision{Decision: "route_to_human", PolicyID: "pol_<2>", PolicyName: "ops & co", RuleIndex: &ri,
				Reason: "rule 2 \"matched\"", RequireReason: true, OnTimeout: "approve"}},
		"zero request": {},
	}
	for name, r := range cases {
		w := ToRequest(&r, created)
		checkSame(t, name, &w)
	}
}

// A page encoded from the domain values is the same bytes as
// encoding/json makes of the list of their wire forms, empty or not.
func TestRequestPageMatchesRequestList(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	ri := 1
	reqs := []*approval.Request{
		{ID: "req_1", Action: "deploy <prod>", Params: json.RawMessage(`{"env": "prod"}`), Status: approval.StatusPending,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Minute),
			PolicyDecision: approval.PolicyDecision{Decision: "route_to_human", RuleIndex: &ri, Approvers: []string{"ops"}}},
		{ID: "req_2", Action: "a", Status: approval.StatusDenied, CreatedAt: now, DecidedAt: now, DecidedBy: "bob", DecisionReason: "no & never"},
		{},
	}
	for _, n := range []int{0, 1, 3} {
		page := RequestPage{Requests: reqs[:n], Now: now, Pagination: Page(int64(n)+40, 2, 1)}
		list := RequestList{Requests: make([]Request, n), Pagination: page.Pagination}
		for i, r := range reqs[:n] {
			list.Requests[i] = ToRequest(r, now)
		}
		got, err := page.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if std := stdJSON(t, list); !bytes.Equal(got, std) {
			t.Errorf("%d requests: differs from encoding/json:\n got %s\nwant %s", n, got, std)
		}
	}
}

// TestAppendJSONRandomStrings compares the string escaping with
// encoding/json on random strings drawn from the troublesome bytes.
func TestAppendJSONRandomStrings(t *testing.T) {
	t.Parallel()
	alphabet := []string{"a", "Z", "0", " ", `"`, `\`, "/", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
		"é", "€", "😀", "\u2028", "\u2029", "\xff", "\xe2\x80", "\xed\xa0\x80", "\ufffd", "\u00a0"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		var s string
		for range rng.IntN(12) {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		params, _ := json.Marshal(map[string]any{"v": s, "n": i})
		r := Request{ID: s, Action: s, Params: params, Context: json.RawMessage(`{}`), DecisionReason: &s, ApprovedParams: json.RawMessage("null")}
		got, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := stdJSON(t, r); !bytes.Equal(got, want) {
			t.Fatalf("string %q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("deploy", `{"a":1}`)
	f.Add("<script>", `{"s": "x\u2028y", "n": [1, 2]}`)
	f.Fuzz(func(t *testing.T, s, raw string) {
		if !json.Valid([]byte(raw)) {
			return // the store holds only JSON the server encoded
		}
		r := Request{ID: s, Action: s, Params: json.RawMessage(raw), Context: json.RawMessage(raw), ApprovedParams: json.RawMessage(raw)}
		got, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := stdJSON(t, r); !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkRequestListJSON(b *testing.B) {
	created := time.Now()
	reqs := make([]*approval.Request, 50)
	wreqs := make([]Request, 50)
	for i := range reqs {
		reqs[i] = &approval.Request{ID: "req_0123456789abcdef", Action: "email.send", Params: json.RawMessage(`{"to":"someone@example.com","subject":"Quarterly report","amount":1200}`),
			Context: json.RawMessage(`{"agent":"mailer","run":42}`), Status: approval.StatusPending, Urgency: approval.UrgencyNormal,
			CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(time.Hour),
			PolicyDecision: approval.PolicyDecision{Decision: "route_to_human", Reason: "no policy matched"}, AgentID: "key_1", AgentName: "agent"}
		wreqs[i] = ToRequest(reqs[i], created)
	}
	l := RequestList{Requests: wreqs, Pagination: Page(10000, 50, 0)}
	page := RequestPage{Requests: reqs, Now: created, Pagination: l.Pagination}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(true)
			_ = enc.Encode(l)
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		for b.Loop() {
			_, _ = page.AppendJSON(make([]byte, 0, 32<<10))
		}
	})
}
