package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/lockedbuf"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/llmqueue/llmqueue/llmqueuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const createPath = "/v1/queue/requests"

// newLossyEnv is an env whose manager reaches s through a proxy that can
// swallow Redis's replies; go-redis does not retry.
func newLossyEnv(t *testing.T, s *redistest.Server) (*env, *redistest.ReplyDropper) {
	t.Helper()
	if s.Backend == redistest.Cluster {
		t.Skip("the reply-dropping proxy fronts a single server")
	}
	proxy := redistest.NewReplyDropper(t, s.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr, ReadTimeout: 300 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	k := llmqueuetest.New(t, nil, llmqueuetest.WithClient(rdb))
	logs := &lockedbuf.Buffer{}
	srv := httptest.NewServer(New(k.Manager, WithLogger(slog.New(slog.NewTextHandler(logs, nil)))))
	t.Cleanup(srv.Close)
	e := &env{t: t, kit: k, qm: k.Manager, srv: srv, logs: logs}
	e.create(`{"payload": "warm-up"}`) // loads the script, opens a connection
	return e, proxy
}

// unavailableID posts body, expects a 503 whose error names the request's
// ID, and returns that ID.
func (e *env) unavailableID(body string, header ...string) string {
	e.t.Helper()
	status, _, b := e.do(http.MethodPost, createPath, body, header...)
	require.Equal(e.t, http.StatusServiceUnavailable, status, "body: %s", b)
	var eb errorBody
	require.NoError(e.t, json.Unmarshal(b, &eb), "body: %s", b)
	require.NotEmpty(e.t, eb.Error.ID, "the 503 body names the request's id: %s", b)
	require.Contains(e.t, eb.Error.Message, "may have been queued")
	return eb.Error.ID
}

// postCreated posts body and returns the reply of a 201.
func (e *env) postCreated(body string, header ...string) createReply {
	e.t.Helper()
	status, _, b := e.do(http.MethodPost, createPath, body, header...)
	require.Equal(e.t, http.StatusCreated, status, "body: %s", b)
	var r createReply
	require.NoError(e.t, json.Unmarshal(b, &r))
	return r
}

// TestCreate_UnansweredAddAnswers503WithTheIDAndARetryIsNotADuplicate is
// issue 9 item 7 over HTTP: a POST whose Add got no answer from Redis
// answers 503 with the request's ID in the body; the request was stored,
// and posting it again under that ID (or the same Idempotency-Key) answers
// the same request instead of a duplicate.
func TestCreate_UnansweredAddAnswers503WithTheIDAndARetryIsNotADuplicate(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		e, proxy := newLossyEnv(t, s)

		proxy.DropAll(true)
		id := e.unavailableID(`{"payload": {"n": 1}}`)
		keyed := e.unavailableID(`{"payload": {"n": 2}}`, "Idempotency-Key", "order-42")
		proxy.DropAll(false)

		assert.Equal(t, llmqueue.StatusQueued, e.status(id).Status, "stored although the POST answered 503")
		r := e.postCreated(`{"id": "` + id + `", "payload": {"n": 1}}`)
		assert.Equal(t, id, r.ID)
		r = e.postCreated(`{"payload": {"n": 2}}`, "Idempotency-Key", "order-42")
		assert.Equal(t, keyed, r.ID)
		m, err := e.qm.Metrics(t.Context())
		require.NoError(t, err)
		assert.EqualValues(t, 3, m.TotalInQueue, "warm-up and two requests, once each")
	})
}

// TestCreate_IdempotencyKeyReturnsTheSameRequestForTheSameBody is issue 9
// item 7: a POST retried with the same Idempotency-Key and body answers the
// first POST's request; the same key with another body is 409; a malformed
// key is 400.
func TestCreate_IdempotencyKeyReturnsTheSameRequestForTheSameBody(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		e := newEnvOn(t, s, config{})
		const body = `{"payload": {"prompt": "hi"}, "meta": {"user": "u1"}}`
		first := e.postCreated(body, "Idempotency-Key", "k-1")
		again := e.postCreated(body, "Idempotency-Key", "k-1")
		assert.Equal(t, first.ID, again.ID)
		other := e.postCreated(body, "Idempotency-Key", "k-2")
		assert.NotEqual(t, first.ID, other.ID)
		e.expectError(http.MethodPost, createPath, `{"payload": {"prompt": "bye"}}`, http.StatusConflict, "duplicate_id",
			"Idempotency-Key", "k-1")
		// An id in the body wins over the key.
		withID := e.postCreated(`{"id": "mine", "payload": 1}`, "Idempotency-Key", "k-3")
		assert.Equal(t, "mine", withID.ID)

		for _, key := range []string{strings.Repeat("k", 256), "ключ", "two words"} {
			e.expectError(http.MethodPost, createPath, body, http.StatusBadRequest, "invalid_request", "Idempotency-Key", key)
		}
		m, err := e.qm.Metrics(t.Context())
		require.NoError(t, err)
		assert.EqualValues(t, 3, m.TotalInQueue)
	})
}

// TestCreate_InvalidUTF8Is400 is issue 9 item 13 over HTTP: a payload with
// bytes that are not UTF-8 was stored and served back raw, which JSON
// clients cannot decode.
func TestCreate_InvalidUTF8Is400(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		e := newEnvOn(t, s, config{})
		e.expectError(http.MethodPost, createPath, "{\"payload\": {\"p\": \"\xff\xfe\"}}", http.StatusBadRequest, "invalid_payload")
		e.expectError(http.MethodPost, createPath, "{\"payload\": 1, \"meta\": {\"k\": \"\xff\"}}", http.StatusBadRequest, "invalid_request")
		e.expectError(http.MethodPost, createPath, "{\"id\": \"a\xffb\", \"payload\": 1}", http.StatusBadRequest, "invalid_request")
		m, err := e.qm.Metrics(t.Context())
		require.NoError(t, err)
		assert.Zero(t, m.TotalInQueue)
	})
}
