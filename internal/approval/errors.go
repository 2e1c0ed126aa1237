package approval

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an Error. Transports map codes to their own status values
// (HTTP statuses, CLI exit codes, MCP tool errors) in one table each.
type Code string

// The error codes. Anything that is not an *Error is treated as CodeInternal
// and its text is never shown to a client.
const (
	CodeInvalid          Code = "invalid"                // 400
	CodeUnauthenticated  Code = "unauthenticated"        // 401
	CodeForbidden        Code = "forbidden"              // 403
	CodeNotFound         Code = "not_found"              // 404
	CodeConflict         Code = "conflict"               // 409
	CodeTooLarge         Code = "too_large"              // 413
	CodeUnsupportedMedia Code = "unsupported_media_type" // 415
	CodeUnprocessable    Code = "unprocessable"          // 422
	CodeRateLimited      Code = "rate_limited"           // 429
	CodeUnavailable      Code = "unavailable"            // 503
	CodeInternal         Code = "internal"               // 500
)

// Error is an application error: Message is safe to show to the caller,
// Err (optional) is the cause, kept for logs and errors.Is.
type Error struct {
	Code       Code
	Message    string
	RetryAfter time.Duration // for CodeRateLimited
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted, client-safe message.
// Never pass an error as a format argument: its text may hold internals.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with a client-safe message and an internal cause.
func Wrap(code Code, cause error, message string) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none.
func ErrorCode(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err; internal errors
// become a generic text so driver messages never leak.
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal error"
}

// Sentinel errors returned by stores; services wrap them with messages.
var (
	// ErrNotFound means the row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyDecided means a compare-and-set on a pending request lost.
	ErrAlreadyDecided = errors.New("already decided")
	// ErrDuplicate means a unique constraint refused the write.
	ErrDuplicate = errors.New("duplicate")
)
