package httpapi

import (
	"encoding/json"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
)

// The fuzz targets check that request decoding and query parsing never
// panic, that every refusal is a client error (CodeInvalid, so a 400 and
// never a 500), and that what they accept is within bounds. Run each with
// go test ./internal/httpapi -run '^$' -fuzz '^FuzzX$' -fuzztime=2m -parallel=1

func requireInvalid(t *testing.T, what string, err error) {
	t.Helper()
	e, ok := errors.AsType[*approval.Error](err)
	if !ok || e.Code != approval.CodeInvalid || e.Message == "" {
		t.Fatalf("%s: error %v (%T) is not a CodeInvalid *approval.Error", what, err, err)
	}
}

var jsonSeeds = []string{
	`{"action":"deploy","params":{"env":"prod"},"context":{"a":[1,2,{"b":null}]},"urgency":"high","expiresAt":"2030-01-02T03:04:05Z"}`,
	`{}`, `[]`, `null`, `"x"`, `{"a":1}{"b":2}`, `{"a":`, `{"action":""}`, `{"action":1}`, `{"params":[]}`,
	`{"action":"a","expiresAt":"yesterday"}`, `{"action":"a","urgency":7}`, "\xff\xfe", `{"a":"\ud800"}`,
	strings.Repeat("[", 40) + strings.Repeat("]", 40), `{"action":"a","params":{"x":1e400}}`,
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := checkJSON(body)
		if err != nil {
			requireInvalid(t, "checkJSON", err)
			return
		}
		if len(strings.TrimSpace(string(body))) > 0 && !json.Valid(body) {
			t.Fatalf("checkJSON accepted invalid JSON %q", body)
		}
	})
}

func FuzzParseObject(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, err := parseObject(body, createRequestFields...)
		if err != nil {
			requireInvalid(t, "parseObject", err)
			return
		}
		if fields == nil {
			t.Fatal("parseObject accepted a body and returned no fields")
		}
		for k := range fields {
			if !strings.Contains(","+strings.Join(createRequestFields, ",")+",", ","+k+",") {
				t.Fatalf("parseObject let unknown field %q through", k)
			}
		}
	})
}

func FuzzParseCreateInput(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, err := parseObject(body, createRequestFields...)
		if err != nil {
			return
		}
		in, err := parseCreateInput(fields)
		if err != nil {
			requireInvalid(t, "parseCreateInput", err)
			return
		}
		if strings.TrimSpace(in.Action) == "" {
			t.Fatal("parseCreateInput accepted an empty action")
		}
		// What the domain then does with it must also fail cleanly.
		if err := in.Validate(time.Now()); err != nil {
			requireInvalid(t, "Validate", err)
			return
		}
		if err := in.CheckKeys(approval.DefaultMaxParamsKeys); err != nil {
			requireInvalid(t, "CheckKeys", err)
		}
	})
}

func FuzzPageParams(f *testing.F) {
	for _, s := range []string{"", "limit=10&offset=20", "limit=0", "limit=101", "limit=-1", "offset=1000001",
		"limit=1e3", "limit=%20%2050", "limit=9223372036854775808", "limit=10&limit=20", "limit=0x10", "offset=+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // the server ignores malformed pairs the same way
		}
		limit, offset, err := pageParams(q)
		if err != nil {
			requireInvalid(t, "pageParams", err)
			return
		}
		if limit < 1 || limit > approval.MaxPageSize || offset < 0 || offset > approval.MaxOffset {
			t.Fatalf("pageParams(%q) = %d, %d: out of bounds", raw, limit, offset)
		}
	})
}

func FuzzQueryTime(f *testing.F) {
	for _, s := range []string{"", "2026-01-02", "2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123+02:00",
		"9999-12-31", "0000-01-01T00:00:00Z", "2026-02-30", "2026-01-02T25:00:00Z", "yesterday", " 2026-01-02 "} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, endOfDay bool) {
		got, err := queryTime(url.Values{"from": {v}}, "from", endOfDay)
		if err != nil {
			requireInvalid(t, "queryTime", err)
			return
		}
		if !got.IsZero() && got.Location() != time.UTC {
			t.Fatalf("queryTime(%q) = %v: not UTC", v, got)
		}
	})
}

func FuzzParseWaitTimeout(f *testing.F) {
	for _, s := range []string{"", "30s", "30", "0", "0.5", "60", "61", "2m", "-1", "NaN", "Inf", "-Inf", "1e308",
		"9223372036854775807ns", "1h", "1e-9", "0x10", " 5s "} {
		f.Add(s)
	}
	const def, maxWait = 30 * time.Second, 60 * time.Second
	f.Fuzz(func(t *testing.T, v string) {
		d, err := parseWaitTimeout(v, def, maxWait)
		if err != nil {
			requireInvalid(t, "parseWaitTimeout", err)
			return
		}
		if d < 0 || d > maxWait {
			t.Fatalf("parseWaitTimeout(%q) = %s: outside [0, %s]", v, d, maxWait)
		}
	})
}

func FuzzClientAddr(f *testing.F) {
	for _, s := range [][2]string{{"10.0.0.1:4000", "203.0.113.7"}, {"10.0.0.1:4000", "203.0.113.7, 10.0.0.2"},
		{"[::1]:80", "2001:db8::1"}, {"10.0.0.1:1", "garbage, 1.2.3.4"}, {"bad", ""}, {"10.0.0.1:1", "::ffff:1.2.3.4"}} {
		f.Add(s[0], s[1])
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := clientAddr(remote, []string{xff}, trusted)
		peer := parseHostAddr(remote)
		if !isTrusted(peer, trusted) && got != peer {
			t.Fatalf("untrusted peer %q: got %v, want the peer itself", remote, got)
		}
		if got.IsValid() && (got.Is4In6() || got.Zone() != "") {
			t.Fatalf("clientAddr returned %v: not normalised", got)
		}
		_ = addrKey(got)
	})
}
