package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/llmqueue/llmqueue"
)

// createBody is the body of POST /v1/queue/requests.
type createBody struct {
	ID              string                     `json:"id"`
	Payload         json.RawMessage            `json:"payload"`
	EstimatedTokens *int64                     `json:"estimated_tokens"`
	Priority        llmqueue.Priority          `json:"priority"`
	MaxRetries      *int                       `json:"max_retries"`
	TimeoutSeconds  *float64                   `json:"timeout_seconds"`
	Meta            map[string]json.RawMessage `json:"meta"`
}

// createReply is the 201 answer to POST /v1/queue/requests.
type createReply struct {
	ID       string            `json:"id"`
	Status   llmqueue.Status   `json:"status"`
	Priority llmqueue.Priority `json:"priority,omitempty"`
}

// resumeBody is the body of POST /v1/queue/requests/{id}/resume.
type resumeBody struct {
	Input json.RawMessage `json:"input"`
}

// idPattern keeps client-chosen IDs addressable in a URL path segment and
// free of the spaces and slashes that other parts of a system split on.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,200}$`)

// maxTimeoutSeconds keeps timeout_seconds within a time.Duration.
const maxTimeoutSeconds = float64(math.MaxInt64 / int64(time.Second))

// IdempotencyKeyHeader names the header that makes a POST of a request
// without an id safe to retry: the request's ID is derived from the key
// (see idempotencyID), so the same key and body answer the same request,
// and the same key with a different body answers 409. A body's id wins
// over the key: an id alone already makes a POST safe to retry.
const IdempotencyKeyHeader = "Idempotency-Key"

// maxIdempotencyKey is the longest Idempotency-Key accepted, in bytes.
const maxIdempotencyKey = 255

// idempotencyID derives a request ID from an Idempotency-Key: "idem-" and
// 32 hex digits of the key's SHA-256, which fits idPattern whatever the
// key holds.
func idempotencyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "idem-" + hex.EncodeToString(sum[:16])
}

// validIdempotencyKey reports whether key is 1-255 visible ASCII
// characters (no spaces), like the UUIDs and tokens clients send.
func validIdempotencyKey(key string) bool {
	if key == "" || len(key) > maxIdempotencyKey {
		return false
	}
	for i := range len(key) {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	var body createBody
	if e := h.decode(w, r, &body, false); e != nil {
		h.fail(w, r, e)
		return
	}
	if key := r.Header.Get(IdempotencyKeyHeader); key != "" {
		if !validIdempotencyKey(key) {
			h.fail(w, r, &apiError{status: http.StatusBadRequest, code: "invalid_request",
				msg: fmt.Sprintf("%s must be 1-%d visible ASCII characters", IdempotencyKeyHeader, maxIdempotencyKey)})
			return
		}
		if body.ID == "" {
			body.ID = idempotencyID(key)
		}
	}
	opts, e := body.options()
	if e != nil {
		h.fail(w, r, e)
		return
	}
	id, err := h.qm.Add(r.Context(), llmqueue.NewRequest(body.Payload, opts...))
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	reply := createReply{ID: id, Status: llmqueue.StatusQueued}
	// Add does not say which class the estimate fell into; the stored
	// request does. A worker may have leased it already: report what is.
	if st, err := h.qm.Status(r.Context(), id); err == nil {
		reply.Status, reply.Priority = st.Status, st.Priority
	} else {
		h.log.Warn("llmqueue/httpapi: request queued but its status could not be read",
			"id", id, "error", err.Error())
	}
	w.Header().Set("Location", "/v1/queue/requests/"+url.PathEscape(id))
	writeJSON(w, http.StatusCreated, reply)
}

// options checks the body and turns it into request options.
func (b *createBody) options() ([]llmqueue.RequestOption, *apiError) {
	bad := func(code, format string, args ...any) *apiError {
		return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
	}
	if len(b.Payload) == 0 || bytes.Equal(b.Payload, []byte("null")) {
		return nil, bad("invalid_payload", "payload is required")
	}
	var opts []llmqueue.RequestOption
	if b.ID != "" {
		if !idPattern.MatchString(b.ID) {
			return nil, bad("invalid_request", "id must be 1-200 of [A-Za-z0-9._:-]")
		}
		opts = append(opts, llmqueue.WithID(b.ID))
	}
	if b.EstimatedTokens != nil {
		opts = append(opts, llmqueue.WithEstimatedTokens(*b.EstimatedTokens))
	}
	if b.Priority != "" {
		switch b.Priority {
		case llmqueue.PriorityLow, llmqueue.PriorityMedium, llmqueue.PriorityLong:
		default:
			return nil, bad("invalid_request", "priority must be low, medium or long")
		}
		opts = append(opts, llmqueue.WithPriority(b.Priority))
	}
	if b.MaxRetries != nil {
		opts = append(opts, llmqueue.WithMaxRetries(*b.MaxRetries))
	}
	if b.TimeoutSeconds != nil {
		s := *b.TimeoutSeconds
		if s < 0 || s > maxTimeoutSeconds {
			return nil, bad("invalid_request", "timeout_seconds must be between 0 (the processor's default) and %.0f", maxTimeoutSeconds)
		}
		opts = append(opts, llmqueue.WithTimeout(time.Duration(s*float64(time.Second))))
	}
	if len(b.Meta) > 0 {
		meta := make(map[string]any, len(b.Meta))
		for k, v := range b.Meta {
			meta[k] = v
		}
		opts = append(opts, llmqueue.WithMeta(meta))
	}
	return opts, nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	st, err := h.qm.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// cancel answers 200 with the canceled request, or 202 when the request is
// running: its processor is being stopped and it ends canceled shortly.
func (h *handler) cancel(w http.ResponseWriter, r *http.Request) {
	if e := h.decode(w, r, &struct{}{}, true); e != nil {
		h.fail(w, r, e)
		return
	}
	id := r.PathValue("id")
	after, err := h.qm.Cancel(r.Context(), id)
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	st, err := h.qm.Status(r.Context(), id)
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	status := http.StatusOK
	if after != llmqueue.StatusCanceled {
		status = http.StatusAccepted
	}
	writeJSON(w, status, st)
}

// resume queues a suspended request again with the body's input and
// answers 200 with the request's status. "input" is required, null
// included: an empty body must not approve what a human was asked.
func (h *handler) resume(w http.ResponseWriter, r *http.Request) {
	var body resumeBody
	if e := h.decode(w, r, &body, true); e != nil {
		h.fail(w, r, e)
		return
	}
	if len(body.Input) == 0 {
		h.fail(w, r, &apiError{status: http.StatusBadRequest, code: "missing_input",
			msg: `the body needs an "input" field; {"input": null} answers null`})
		return
	}
	id := r.PathValue("id")
	if err := h.qm.Resume(r.Context(), id, body.Input); err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	st, err := h.qm.Status(r.Context(), id)
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// decode reads one JSON object from the body into dst, within the size
// limit and without unknown fields. With emptyOK an empty body is fine and
// leaves dst as it is.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, dst any, emptyOK bool) *apiError {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if emptyOK && errors.Is(err, io.EOF) {
			return nil
		}
		return fromDecodeError(err)
	}
	// Exactly one value: anything after it is an error, and reading on
	// also enforces the size limit for what follows.
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		if err == nil {
			return &apiError{status: http.StatusBadRequest, code: "invalid_json",
				msg: "request body must hold a single JSON object"}
		}
		return fromDecodeError(err)
	}
	return nil
}
