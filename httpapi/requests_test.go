package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/stretchr/testify/require"
)

func TestCreate_QueuesAndStatusShowsIt(t *testing.T) {
	e := newEnv(t, config{})
	status, h, b := e.do(http.MethodPost, "/v1/queue/requests", `{
		"id": "req-1", "payload": {"prompt": "hi"}, "estimated_tokens": 20000,
		"max_retries": 1, "timeout_seconds": 90, "meta": {"user": "u1"}}`)
	require.Equal(t, http.StatusCreated, status, "body: %s", b)
	require.Equal(t, "/v1/queue/requests/req-1", h.Get("Location"))
	require.JSONEq(t, `{"id":"req-1","status":"queued","priority":"medium"}`, string(b))

	st := e.status("req-1")
	require.Equal(t, llmqueue.StatusQueued, st.Status)
	require.Equal(t, llmqueue.PriorityMedium, st.Priority)
	require.Equal(t, int64(20000), st.EstimatedTokens)
	require.Equal(t, 1, st.MaxRetries)
	require.Equal(t, int64(90_000), st.TimeoutMS)
	require.JSONEq(t, `"u1"`, string(st.Meta["user"]))
	require.JSONEq(t, `{"prompt":"hi"}`, string(st.Payload))

	// Without an ID or estimate, the manager picks both.
	r := e.create(`{"payload": {"prompt": "short"}}`)
	require.NotEmpty(t, r.ID)
	require.Equal(t, llmqueue.PriorityLow, r.Priority)
}

func TestCreate_RefusesBadInput(t *testing.T) {
	e := newEnv(t, config{manager: llmqueue.Config{Budget: llmqueue.Budget{TPM: 10_000}}})
	const path = "/v1/queue/requests"
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"bad JSON", `{"payload": {`, http.StatusBadRequest, "invalid_json"},
		{"not JSON at all", `payload=1`, http.StatusBadRequest, "invalid_json"},
		{"empty body", ``, http.StatusBadRequest, "invalid_json"},
		{"two values", `{"payload": 1} {"payload": 2}`, http.StatusBadRequest, "invalid_json"},
		{"wrong type", `{"payload": 1, "estimated_tokens": "many"}`, http.StatusBadRequest, "invalid_json"},
		{"unknown field", `{"payload": 1, "urgency": "high"}`, http.StatusBadRequest, "unknown_field"},
		{"no payload", `{"estimated_tokens": 5}`, http.StatusBadRequest, "invalid_payload"},
		{"null payload", `{"payload": null}`, http.StatusBadRequest, "invalid_payload"},
		{"negative tokens", `{"payload": 1, "estimated_tokens": -1}`, http.StatusBadRequest, "invalid_tokens"},
		{"negative retries", `{"payload": 1, "max_retries": -2}`, http.StatusBadRequest, "invalid_request"},
		{"negative timeout", `{"payload": 1, "timeout_seconds": -1}`, http.StatusBadRequest, "invalid_request"},
		{"huge timeout", `{"payload": 1, "timeout_seconds": 1e300}`, http.StatusBadRequest, "invalid_request"},
		{"id with a slash", `{"payload": 1, "id": "a/b"}`, http.StatusBadRequest, "invalid_request"},
		{"id with a space", `{"payload": 1, "id": "a b"}`, http.StatusBadRequest, "invalid_request"},
		{"over budget", `{"payload": 1, "estimated_tokens": 50000}`, http.StatusUnprocessableEntity, "over_budget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := *e
			sub.t = t
			sub.expectError(http.MethodPost, path, tc.body, tc.status, tc.code)
		})
	}
	e.create(`{"payload": 1, "id": "dup"}`)
	e.expectError(http.MethodPost, path, `{"payload": 2, "id": "dup"}`, http.StatusConflict, "duplicate_id")
}

func TestCreate_OversizedBodyIs413(t *testing.T) {
	e := newEnv(t, config{api: []Option{WithMaxBodyBytes(256)}})
	big := `{"payload": {"text": "` + strings.Repeat("x", 1024) + `"}}`
	msg := e.expectError(http.MethodPost, "/v1/queue/requests", big, http.StatusRequestEntityTooLarge, "body_too_large")
	require.Contains(t, msg, "256")
	// Small bodies still pass, and so does the whole limit.
	e.create(`{"payload": {"text": "small"}}`)
	e.expectError(http.MethodPost, "/v1/queue/requests/x/resume", `{"input": "`+strings.Repeat("y", 512)+`"}`,
		http.StatusRequestEntityTooLarge, "body_too_large")
}

func TestErrors_NeverEchoPayloadsOrInputs(t *testing.T) {
	e := newEnv(t, config{manager: llmqueue.Config{Budget: llmqueue.Budget{TPM: 10_000}}})
	const secret = "sk-live-SECRET-4242"
	e.create(`{"payload": {"key": "` + secret + `"}, "id": "s1"}`)
	for _, tc := range []struct{ method, path, body string }{
		// The same id with another payload (the same payload would be a
		// replay, answered 201).
		{http.MethodPost, "/v1/queue/requests", `{"payload": {"key": "` + secret + `", "n": 2}, "id": "s1"}`},
		{http.MethodPost, "/v1/queue/requests", `{"payload": {"key": "` + secret + `"}, "estimated_tokens": 99999}`},
		{http.MethodPost, "/v1/queue/requests", `{"payload": {"key": "` + secret + `"`},
		{http.MethodPost, "/v1/queue/requests", `{"payload": {"key": "` + secret + `"}, "extra": "` + secret + `"}`},
		{http.MethodPost, "/v1/queue/requests/s1/resume", `{"input": {"key": "` + secret + `"}}`},
		{http.MethodPost, "/v1/queue/requests/nope/resume", `{"input": "` + secret + `"}`},
	} {
		status, _, b := e.do(tc.method, tc.path, tc.body)
		require.GreaterOrEqual(t, status, 400, "body: %s", b)
		require.NotContains(t, string(b), secret)
	}
	require.NotContains(t, e.logs.String(), secret)
}

func TestGet_UnknownIDIs404(t *testing.T) {
	e := newEnv(t, config{})
	e.expectError(http.MethodGet, "/v1/queue/requests/no-such-id", "", http.StatusNotFound, "not_found")
}

func TestCancel_QueuedThenFinishedThenUnknown(t *testing.T) {
	e := newEnv(t, config{})
	id := e.create(`{"payload": {"q": 1}}`).ID
	status, _, b := e.do(http.MethodPost, "/v1/queue/requests/"+id+"/cancel", "")
	require.Equal(t, http.StatusOK, status, "body: %s", b)
	var st llmqueue.RequestStatus
	require.NoError(t, json.Unmarshal(b, &st))
	require.Equal(t, llmqueue.StatusCanceled, st.Status)

	status, _, b = e.do(http.MethodPost, "/v1/queue/requests/"+id+"/cancel", "")
	require.Equal(t, http.StatusOK, status, "a repeated cancel succeeds: %s", b)
	e.expectError(http.MethodPost, "/v1/queue/requests/nope/cancel", "{}", http.StatusNotFound, "not_found")
	e.expectError(http.MethodPost, "/v1/queue/requests/"+id+"/cancel", `{"why": 1}`, http.StatusBadRequest, "unknown_field")
}

func TestResume_RefusesRequestsThatAreNotSuspended(t *testing.T) {
	e := newEnv(t, config{})
	id := e.create(`{"payload": {"q": 1}}`).ID
	msg := e.expectError(http.MethodPost, "/v1/queue/requests/"+id+"/resume", `{"input": {"ok": true}}`,
		http.StatusConflict, "invalid_state")
	require.Contains(t, msg, "queued")
	e.expectError(http.MethodPost, "/v1/queue/requests/nope/resume", `{"input": 1}`, http.StatusNotFound, "not_found")
	e.expectError(http.MethodPost, "/v1/queue/requests/"+id+"/resume", `{"input": `, http.StatusBadRequest, "invalid_json")
	e.expectError(http.MethodPost, "/v1/queue/requests/"+id+"/resume", `{"answer": 1}`, http.StatusBadRequest, "unknown_field")
}

func TestRedisDown_Is503Quickly(t *testing.T) {
	e := newEnv(t, config{manager: llmqueue.Config{OpTimeout: 300 * time.Millisecond}})
	e.stopRedis()
	start := time.Now()
	e.expectError(http.MethodPost, "/v1/queue/requests", `{"payload": 1}`, http.StatusServiceUnavailable, "unavailable")
	e.expectError(http.MethodGet, "/v1/queue/requests/x", "", http.StatusServiceUnavailable, "unavailable")
	e.expectError(http.MethodGet, "/v1/queue/metrics.json", "", http.StatusServiceUnavailable, "unavailable")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Contains(t, e.logs.String(), "request failed")
}
