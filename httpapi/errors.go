package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/llmqueue/llmqueue"
	"github.com/redis/go-redis/v9"
)

// apiError is an error answer: status code, machine-readable code and a
// message that is safe to show (it never holds a payload).
type apiError struct {
	status int
	code   string
	msg    string
	id     string // the request's ID, sent when a POST's outcome is unknown
	cause  error  // logged for 5xx answers, never sent
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// ID names the request a POST may have queued although it answered
	// 503: its Add got no answer from Redis (see
	// llmqueue.AddOutcomeUnknownError).
	ID string `json:"id,omitempty"`
}

// fromQueueError maps an error of the llmqueue API to an answer. Sentinel
// errors become 4xx answers whose message is the error's own text (the
// library never puts payloads in it); Redis and timeout failures become
// 503; anything else 500 without details.
func fromQueueError(err error) *apiError {
	var (
		status  int
		code    string
		unknown *llmqueue.AddOutcomeUnknownError
	)
	switch {
	case errors.As(err, &unknown):
		return &apiError{status: http.StatusServiceUnavailable, code: "unavailable", id: unknown.ID, cause: err,
			msg: "the queue's storage did not answer, so the request may have been queued: " +
				"POST it again with this id (or the same Idempotency-Key) to be sure it is queued once, " +
				"or GET it by this id"}
	case errors.Is(err, llmqueue.ErrNotFound):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, llmqueue.ErrInvalidPayload):
		status, code = http.StatusBadRequest, "invalid_payload"
	case errors.Is(err, llmqueue.ErrInvalidTokens):
		status, code = http.StatusBadRequest, "invalid_tokens"
	case errors.Is(err, llmqueue.ErrNotIndexed):
		return &apiError{status: http.StatusBadRequest, code: "not_indexed",
			msg: "completed and canceled requests cannot be listed (they have no index); read one with GET /v1/queue/requests/{id}"}
	case errors.Is(err, llmqueue.ErrInvalidRequest):
		status, code = http.StatusBadRequest, "invalid_request"
	case errors.Is(err, llmqueue.ErrOverBudget):
		status, code = http.StatusUnprocessableEntity, "over_budget"
	case errors.Is(err, llmqueue.ErrDuplicateID):
		status, code = http.StatusConflict, "duplicate_id"
	case errors.Is(err, llmqueue.ErrInvalidState):
		status, code = http.StatusConflict, "invalid_state"
	case errors.Is(err, llmqueue.ErrCorrupt):
		return &apiError{status: http.StatusInternalServerError, code: "corrupt_data",
			msg: "the stored request could not be decoded", cause: err}
	case unavailable(err):
		return &apiError{status: http.StatusServiceUnavailable, code: "unavailable",
			msg: "the queue's storage is unavailable; try again later", cause: err}
	default:
		return &apiError{status: http.StatusInternalServerError, code: "internal",
			msg: "internal error", cause: err}
	}
	return &apiError{status: status, code: code, msg: strings.ReplaceAll(err.Error(), "llmqueue: ", "")}
}

// unavailable reports whether err means Redis could not be reached or did
// not answer in time.
func unavailable(err error) bool {
	var (
		netErr   net.Error
		redisErr redis.Error
	)
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &netErr) || errors.As(err, &redisErr) ||
		errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, redis.ErrPoolExhausted) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// fromDecodeError maps a failure to read a JSON body to an answer. The
// messages name offsets, fields and types, never the body's content.
func fromDecodeError(err error) *apiError {
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	bad := func(code, msg string) *apiError {
		return &apiError{status: http.StatusBadRequest, code: code, msg: msg}
	}
	switch {
	case errors.As(err, &tooBig):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "body_too_large",
			msg: fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit)}
	case errors.Is(err, io.EOF):
		return bad("invalid_json", "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("invalid_json", "request body ends in the middle of a JSON value")
	case errors.As(err, &syntax):
		return bad("invalid_json", fmt.Sprintf("request body is not valid JSON (at byte %d)", syntax.Offset))
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return bad("invalid_json", fmt.Sprintf("%s must be %s, not %s", field, typeErr.Type, typeErr.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields; the
		// message names only the field.
		return bad("unknown_field", strings.TrimPrefix(err.Error(), "json: "))
	}
	return bad("invalid_json", "request body could not be read as JSON")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// The status is sent; a failed write means the client went away.
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, errorBody{Error: errorDetail{Code: e.code, Message: e.msg, ID: e.id}})
}

// fail answers e and logs server-side failures. Only the method, route,
// request ID and the error's text are logged: never a body.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	attrs := []any{"method", r.Method, "route", r.Pattern, "status", e.status, "code", e.code}
	if id := r.PathValue("id"); id != "" {
		attrs = append(attrs, "id", id)
	} else if e.id != "" {
		attrs = append(attrs, "id", e.id)
	}
	if e.status >= 500 {
		if e.cause != nil {
			attrs = append(attrs, "error", e.cause.Error())
		}
		h.log.Error("llmqueue/httpapi: request failed", attrs...)
	} else {
		h.log.Debug("llmqueue/httpapi: request refused", attrs...)
	}
	writeError(w, e)
}
