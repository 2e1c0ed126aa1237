package policy

import (
	"context"
	"testing"
	"time"
)

func TestTemplates(t *testing.T) {
	ts := Templates()
	if len(ts) < 5 {
		t.Fatalf("%d templates, want at least 5", len(ts))
	}
	seen := map[string]bool{}
	for _, tp := range ts {
		if tp.ID == "" || tp.Name == "" || tp.Description == "" || tp.Category == "" || seen[tp.ID] {
			t.Errorf("template %+v: missing metadata or duplicate id", tp)
		}
		seen[tp.ID] = true
		if err := Validate(tp.Policy); err != nil {
			t.Errorf("template %s: %v", tp.ID, err)
		}
	}

	byID := func(id string) *Set {
		for _, tp := range Templates() {
			if tp.ID == id {
				s, err := Compile([]Policy{tp.Policy})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}
		t.Fatalf("no template %q", id)
		return nil
	}
	weekdayMorning := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday
	saturday := time.Date(2026, 3, 7, 10, 0, 0, 0, time.UTC)

	for _, tc := range []struct {
		template string
		in       Input
		want     Decision
	}{
		{"outbound-email", req("send_email", `{"to": "ana@company.com"}`), AutoApprove},
		{"outbound-email", req("send_email", `{"to": "ana@internal.corp"}`), AutoApprove},
		{"outbound-email", req("send_email", `{"to": "ana@company.com.evil.io"}`), RouteToHuman},
		{"outbound-email", req("send_email", `{"to": "x@gmail.com"}`), RouteToHuman},
		{"deployment", req("deploy", `{"environment": "staging"}`), AutoApprove},
		{"deployment", req("deploy", `{"environment": "production"}`), RouteToHuman},
		{"deployment", req("deploy", `{}`), RouteToHuman},
		{"file-deletion", req("file_delete", `{"path": "/tmp/a", "recursive": true}`), AutoDeny},
		{"file-deletion", req("file_delete", `{"path": "/"}`), AutoDeny},
		{"file-deletion", req("file_delete", `{"path": "~/"}`), AutoDeny},
		{"file-deletion", req("file_delete", `{"path": "/*"}`), AutoDeny},
		{"file-deletion", req("file_delete", `{"path": "/tmp/report.csv"}`), RouteToHuman},
		{"payments", req("payment", `{"amount": 50}`), AutoApprove},
		{"payments", req("payment", `{"amount": 100}`), AutoApprove},
		{"payments", req("payment", `{"amount": 5000}`), RouteToHuman},
		{"payments", req("payment", `{"amount": 50000}`), AutoDeny},
		{"payments", req("payment", `{"amount": "50"}`), RouteToHuman},
		{"payments", req("payment", `{"amount": -5}`), RouteToHuman},
		{"data-export", req("data_export", `{"rowCount": 10}`), AutoApprove},
		{"data-export", req("data_export", `{"rowCount": 5000}`), RouteToHuman},
		{"data-export", req("data_export", `{}`), RouteToHuman},
		{"external-api-write", req("api_call", `{"method": "GET"}`), AutoApprove},
		{"external-api-write", req("api_call", `{"method": "DELETE"}`), RouteToHuman},
		{"after-hours", Input{Action: "x", Urgency: "critical", Now: saturday}, RouteToHuman},
		{"after-hours", Input{Action: "x", Urgency: "low", Now: saturday}, RouteToHuman}, // no match: default
		{"after-hours", Input{Action: "x", Urgency: "critical", Now: weekdayMorning}, RouteToHuman},
	} {
		got := byID(tc.template).Evaluate(context.Background(), tc.in)
		if got.Decision != tc.want {
			t.Errorf("%s %v: %+v, want %s", tc.template, tc.in.Params, got, tc.want)
		}
	}

	// after-hours matches only outside business hours.
	s := byID("after-hours")
	if r := s.Evaluate(context.Background(), Input{Action: "x", Urgency: "critical", Now: saturday}); r.RuleIndex != 0 {
		t.Errorf("after-hours on Saturday: %+v", r)
	}
	if r := s.Evaluate(context.Background(), Input{Action: "x", Urgency: "critical", Now: weekdayMorning}); r.RuleIndex != -1 {
		t.Errorf("after-hours on Monday morning: %+v", r)
	}

	// Templates are fresh copies.
	a := Templates()
	a[0].Policy.Rules[0].Match["action"] = "changed"
	if Templates()[0].Policy.Rules[0].Match["action"] != "send_email" {
		t.Error("Templates shares state between calls")
	}
}
