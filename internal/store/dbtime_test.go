package store

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseDBTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "2026-11-26 09:44:11.864775+00:00", want: time.Date(2026, 11, 26, 9, 44, 11, 864775000, time.UTC)},
		{in: "2026-11-26 09:44:11+00:00", want: time.Date(2026, 11, 26, 9, 44, 11, 0, time.UTC)},
		{in: "2026-11-26T09:44:11.5Z", want: time.Date(2026, 11, 26, 9, 44, 11, 500000000, time.UTC)},
		{in: "2026-11-26 09:44:11.123456789+00:00", want: time.Date(2026, 11, 26, 9, 44, 11, 123456789, time.UTC)},
		{in: "2026-11-26 10:44:11.8+01:00", want: time.Date(2026, 11, 26, 9, 44, 11, 800000000, time.UTC)}, // through time.Parse
		{in: "2026-11-26 09:44:11", want: time.Date(2026, 11, 26, 9, 44, 11, 0, time.UTC)},
		{in: "2026-11-26", want: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{in: "2026-02-31 09:44:11+00:00", bad: true},
		{in: "2026-13-01 09:44:11+00:00", bad: true},
		{in: "2026-11-26 09:44:11.+00:00", bad: true},
		{in: "2026-11-26 09:4x:11+00:00", bad: true},
		{in: "yesterday", bad: true},
		{in: "", bad: true},
	}
	for _, c := range cases {
		got, err := parseDBTime(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q: parsed as %s, want an error", c.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("%q: %s %v, want %s", c.in, got, err, c.want)
		}
	}
}

// TestParseDBTimeMatchesDriverFormat: whatever instant the driver writes
// (its layout, UTC), the fast path reads back exactly.
func TestParseDBTimeMatchesDriverFormat(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		want := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
		if rng.IntN(4) == 0 {
			want = want.Truncate(time.Second)
		}
		s := want.Format("2006-01-02 15:04:05.999999999-07:00")
		if _, ok := parseUTCFast(s); !ok {
			t.Fatalf("%q not on the fast path", s)
		}
		got, err := parseDBTime(s)
		if err != nil || !got.Equal(want) {
			t.Fatalf("%q: %s %v, want %s", s, got, err, want)
		}
	}
}

func TestTextTimestamps(t *testing.T) {
	t.Parallel()
	got := textTimestamps(requestColumns)
	for _, col := range []string{"+created_at", "+updated_at", "+decided_at", "+expires_at"} {
		if !strings.Contains(got, col) {
			t.Errorf("%s missing from %s", col, got)
		}
	}
	if strings.Contains(got, "++") || strings.Contains(got, "+decided_by") {
		t.Errorf("rewrote too much: %s", got)
	}
}
