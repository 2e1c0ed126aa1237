package httpapi

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
)

// queryInt parses an optional integer query parameter within [lo, hi].
// Absent gives def.
func queryInt(q url.Values, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, approval.Errorf(approval.CodeInvalid, "%s must be an integer between %d and %d", name, lo, hi)
	}
	return n, nil
}

// queryTime parses an optional RFC 3339 time (a bare date is accepted; as
// an upper bound it means the end of that day, UTC).
func queryTime(q url.Values, name string, endOfDay bool) (time.Time, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if endOfDay {
			t = t.Add(24*time.Hour - time.Millisecond)
		}
		return t.UTC(), nil
	}
	return time.Time{}, approval.Errorf(approval.CodeInvalid, "%s must be an RFC 3339 time (2026-01-02T15:04:05Z) or a date (2026-01-02)", name)
}

// pageParams parses limit and offset.
func pageParams(q url.Values) (limit, offset int, err error) {
	if limit, err = queryInt(q, "limit", approval.DefaultPageSize, 1, approval.MaxPageSize); err != nil {
		return 0, 0, err
	}
	if offset, err = queryInt(q, "offset", 0, 0, approval.MaxOffset); err != nil {
		return 0, 0, err
	}
	return limit, offset, nil
}
