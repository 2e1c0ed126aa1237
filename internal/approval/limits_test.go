package approval

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	t.Parallel()
	decode := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	cases := []struct {
		name          string
		params, ctx   string
		limit         int
		wantErrSubstr string
	}{
		{"flat within", `{"a":1,"b":2}`, `{}`, 2, ""},
		{"flat over", `{"a":1,"b":2,"c":3}`, `{}`, 2, "params must hold at most 2 keys"},
		{"nested keys count", `{"a":{"b":{"c":1}}}`, `{}`, 2, "params"},
		{"objects inside arrays count", `{"a":[{"b":1},{"c":2}]}`, `{}`, 2, "params"},
		{"array elements alone do not", `{"a":[1,2,3,4,5,6,7,8,9]}`, `{}`, 1, ""},
		{"context has its own budget", `{"a":1,"b":2}`, `{"x":1,"y":2}`, 2, ""},
		{"context over", `{}`, `{"x":{"y":{"z":1}}}`, 2, "context must hold at most 2 keys"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := CreateInput{Params: decode(tc.params), Context: decode(tc.ctx)}
			err := in.CheckKeys(tc.limit)
			if tc.wantErrSubstr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || ErrorCode(err) != CodeInvalid || !strings.Contains(err.Error(), tc.wantErrSubstr) {
				t.Fatalf("error %v, want CodeInvalid containing %q", err, tc.wantErrSubstr)
			}
		})
	}
}

// TestCountKeysStopsEarly: a huge object costs no more than the limit.
func TestCountKeysStopsEarly(t *testing.T) {
	t.Parallel()
	big := map[string]any{}
	for i := range 10_000 {
		big[strings.Repeat("k", 1+i%7)+string(rune('a'+i%26))+strings.Repeat("x", i%13)] = map[string]any{"n": i}
	}
	if n := countKeys(big, 10); n != 11 {
		t.Fatalf("countKeys stopped at %d, want 11 (limit+1)", n)
	}
}
