package httpapi

import (
	"encoding/json"
	"io"
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
	"github.com/stretchr/testify/require"
)

// env is one API under test: a manager on a Redis (an llmqueuetest.Kit),
// and the handler behind an httptest server, with its logs captured.
type env struct {
	t    *testing.T
	kit  *llmqueuetest.Kit
	qm   *llmqueue.QueueManager
	srv  *httptest.Server
	logs *lockedbuf.Buffer
}

type config struct {
	manager llmqueue.Config
	api     []Option
}

// newEnv is an API on an embedded miniredis.
func newEnv(t *testing.T, cfg config) *env {
	t.Helper()
	return newEnvKit(t, cfg)
}

// newEnvOn is newEnv on a given server, e.g. one of redistest.Each.
func newEnvOn(t *testing.T, s *redistest.Server, cfg config) *env {
	t.Helper()
	return newEnvKit(t, cfg, llmqueuetest.WithClient(s.Client(t)))
}

func newEnvKit(t *testing.T, cfg config, opts ...llmqueuetest.Option) *env {
	t.Helper()
	k := llmqueuetest.New(t, nil, append(opts, llmqueuetest.WithManagerConfig(cfg.manager))...)
	logs := &lockedbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	api := append([]Option{WithLogger(logger)}, cfg.api...)
	srv := httptest.NewServer(New(k.Manager, api...))
	t.Cleanup(srv.Close)
	return &env{t: t, kit: k, qm: k.Manager, srv: srv, logs: logs}
}

// stopRedis stops the embedded Redis of an env made by newEnv, to see the
// API while Redis is down.
func (e *env) stopRedis() { e.kit.Mini.Close() }

// do sends a request and returns the status, headers and body.
func (e *env) do(method, path, body string, header ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, resp.Header, b
}

// expectError checks an error answer's status, JSON shape and code, and
// returns its message.
func (e *env) expectError(method, path, body string, status int, code string, header ...string) string {
	e.t.Helper()
	got, h, b := e.do(method, path, body, header...)
	require.Equal(e.t, status, got, "body: %s", b)
	require.Equal(e.t, "application/json", h.Get("Content-Type"))
	var eb errorBody
	require.NoError(e.t, json.Unmarshal(b, &eb), "body: %s", b)
	require.Equal(e.t, code, eb.Error.Code, "body: %s", b)
	require.NotEmpty(e.t, eb.Error.Message)
	return eb.Error.Message
}

// create queues a request through the API and returns its ID.
func (e *env) create(body string) createReply {
	e.t.Helper()
	status, _, b := e.do(http.MethodPost, "/v1/queue/requests", body)
	require.Equal(e.t, http.StatusCreated, status, "body: %s", b)
	var r createReply
	require.NoError(e.t, json.Unmarshal(b, &r))
	return r
}

// status reads a request through the API.
func (e *env) status(id string) llmqueue.RequestStatus {
	e.t.Helper()
	code, _, b := e.do(http.MethodGet, "/v1/queue/requests/"+id, "")
	require.Equal(e.t, http.StatusOK, code, "body: %s", b)
	var st llmqueue.RequestStatus
	require.NoError(e.t, json.Unmarshal(b, &st))
	return st
}

// waitStatus polls the API until the request reaches want.
func (e *env) waitStatus(id string, want llmqueue.Status) llmqueue.RequestStatus {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.status(id)
		if st.Status == want {
			return st
		}
		require.True(e.t, time.Now().Before(deadline), "request %s is %s, want %s", id, st.Status, want)
		time.Sleep(10 * time.Millisecond)
	}
}

// startProcessor runs proc on the env's namespace until the test ends.
func (e *env) startProcessor(proc llmqueue.Processor, wc *llmqueue.WorkerConfig) *llmqueue.BatchProcessor {
	e.t.Helper()
	return e.kit.StartProcessor(proc, wc)
}

// newHandlerServer serves h until the test ends and returns its URL.
func newHandlerServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// get fetches url and returns its body, requiring 200.
func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", b)
	return b
}
