package store

import (
	"fmt"
	"regexp"
	"time"
)

// dbTime scans a timestamp column: a time.Time from PostgreSQL (and from
// SQLite columns with a declared timestamp type), text from the SQLite
// select lists that read timestamps as text. NULL is the zero time.
type dbTime struct{ t *time.Time }

func (d dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = x.UTC()
	case string:
		t, err := parseDBTime(x)
		if err != nil {
			return err
		}
		*d.t = t
	case []byte:
		return d.Scan(string(x))
	default:
		return fmt.Errorf("store: cannot read a %T as a time", v)
	}
	return nil
}

// sqliteTimestamps matches the timestamp columns of a select list.
var sqliteTimestamps = regexp.MustCompile(`\b(created_at|updated_at|decided_at|expires_at)\b`)

// textTimestamps rewrites a SQLite select list so that its timestamps are
// read as text: a unary + keeps the value and drops the declared type, so
// the driver no longer tries its layouts on every value (two failed
// time.Parse calls and one good one per timestamp, a tenth of the CPU of
// listing requests) and dbTime parses the one layout it writes.
func textTimestamps(cols string) string {
	return sqliteTimestamps.ReplaceAllString(cols, "+$1")
}

// parseDBTime parses the text modernc.org/sqlite writes for a time.Time,
// "2006-01-02 15:04:05.999999999-07:00", by hand for the UTC values the
// store writes, and anything else SQLite may hold through time.Parse.
func parseDBTime(s string) (time.Time, error) {
	if t, ok := parseUTCFast(s); ok {
		return t, nil
	}
	for _, layout := range []string{
		"2006-01-02 15:04:05.999999999-07:00",
		"2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("store: unreadable timestamp %q", s)
}

// parseUTCFast reads "YYYY-MM-DD HH:MM:SS[.fraction]" followed by
// "+00:00" or "Z".
func parseUTCFast(s string) (time.Time, bool) {
	switch {
	case len(s) >= 6 && s[len(s)-6:] == "+00:00":
		s = s[:len(s)-6]
	case len(s) >= 1 && s[len(s)-1] == 'Z':
		s = s[:len(s)-1]
	default:
		return time.Time{}, false
	}
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if len(s) > 19 {
		frac := s[20:]
		if s[19] != '.' || len(frac) == 0 || len(frac) > 9 {
			return time.Time{}, false
		}
		n, ok := num(20, len(s))
		if !ok {
			return time.Time{}, false
		}
		for range 9 - len(frac) {
			n *= 10
		}
		nsec = n
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 2026-02-31 and the like: let time.Parse refuse it
		return time.Time{}, false
	}
	return t, true
}
