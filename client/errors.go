package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Every error the server answers with is an *APIError;
// test its class with errors.Is:
//
//	if errors.Is(err, client.ErrNotFound) { ... }
//
// A denial is not an error: Request, Wait and Decide return the request and
// its Status says denied.
var (
	ErrInvalid      = errors.New("agentgate: invalid request")        // 400, 413, 415, 422
	ErrUnauthorized = errors.New("agentgate: unauthorized")           // 401: no, unknown or revoked API key
	ErrForbidden    = errors.New("agentgate: forbidden")              // 403: missing scope, or deciding one's own request
	ErrNotFound     = errors.New("agentgate: not found")              // 404
	ErrConflict     = errors.New("agentgate: conflict")               // 409: e.g. the request was already decided
	ErrRateLimited  = errors.New("agentgate: rate limited")           // 429, after the retries
	ErrUnavailable  = errors.New("agentgate: server unavailable")     // 502, 503, 504, after the retries
	ErrUnreachable  = errors.New("agentgate: cannot reach AgentGate") // no HTTP answer: refused, reset, DNS, timeout
)

// APIError is an error answer of the server: an HTTP status and the
// server's {"error": "..."} message.
type APIError struct {
	StatusCode int
	// Message is the server's error text, safe to show to a person. For
	// answers without an AgentGate body (a proxy's error page) it is the
	// start of the body or the status text.
	Message string
	// RequestID is the server's X-Request-Id for the failing call; quote it
	// when reporting a problem: the server logs under the same id.
	RequestID string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	// Method and Path name the call, e.g. "POST /api/requests".
	Method, Path string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("agentgate: %s %s: %s (HTTP %d)", e.Method, e.Path, e.Message, e.StatusCode)
}

// Is lets errors.Is match e against the sentinels by status code.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrInvalid:
		switch e.StatusCode {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
			return true
		}
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrUnavailable:
		switch e.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// routeNotFound reports whether e is the server's answer for a path it has
// no route for ("Route GET /x not found"), as opposed to a missing resource
// ("Request not found").
func (e *APIError) routeNotFound() bool {
	return e.StatusCode == http.StatusNotFound && strings.HasPrefix(e.Message, "Route ")
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// newAPIError builds the error for a non-2xx answer.
func newAPIError(method, path string, resp *http.Response, body []byte) *APIError {
	e := &APIError{
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("X-Request-Id"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Method:     method,
		Path:       path,
	}
	var eb struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil && len(eb.Error) > 0 {
		var s string
		if json.Unmarshal(eb.Error, &s) == nil {
			e.Message = s
		} else {
			// Some servers send {"error": {"message": "..."}}.
			var obj struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(eb.Error, &obj) == nil {
				e.Message = obj.Message
			}
		}
	}
	if e.Message == "" {
		e.Message = snippet(body)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// snippet returns the start of a non-JSON body as one line of printable
// text, so a proxy's error page still says something useful.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || strings.HasPrefix(s, "{") || strings.HasPrefix(s, "<") {
		return ""
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
