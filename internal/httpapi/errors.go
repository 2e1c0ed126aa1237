package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/agentgate/agentgate/internal/approval"
)

// statusOf maps error codes to HTTP statuses: the one table for the API.
var statusOf = map[approval.Code]int{
	approval.CodeInvalid:          http.StatusBadRequest,
	approval.CodeUnauthenticated:  http.StatusUnauthorized,
	approval.CodeForbidden:        http.StatusForbidden,
	approval.CodeNotFound:         http.StatusNotFound,
	approval.CodeConflict:         http.StatusConflict,
	approval.CodeTooLarge:         http.StatusRequestEntityTooLarge,
	approval.CodeUnsupportedMedia: http.StatusUnsupportedMediaType,
	approval.CodeUnprocessable:    http.StatusUnprocessableEntity,
	approval.CodeRateLimited:      http.StatusTooManyRequests,
	approval.CodeUnavailable:      http.StatusServiceUnavailable,
	approval.CodeInternal:         http.StatusInternalServerError,
}

// StatusOf returns the HTTP status for err.
func StatusOf(err error) int {
	if st, ok := statusOf[approval.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error string `json:"error"`
}

// writeError answers with err's status and {"error": message}. Internal
// errors are logged with the request id and answered with a generic
// message; their text never reaches the client.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := StatusOf(err)
	msg := approval.ErrorMessage(err)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody reads this answer.
		status, msg = 499, "client closed request"
	} else if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()), "err", err)
	}
	if e, ok := errors.AsType[*approval.Error](err); ok && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	writeJSON(w, status, errorBody{Error: msg})
}
