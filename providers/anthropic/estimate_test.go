package anthropic_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/anthropic"
)

func TestAnthropic_EstimateHeuristic(t *testing.T) {
	const head = `{"model":"m","max_tokens":300,`
	cases := []struct {
		name    string
		payload string
		input   int64
	}{
		{"string-content", head + `"messages":[{"role":"user","content":"` + strings.Repeat("a", 100) + `"}]}`, 25},
		{"rounds-up", head + `"messages":[{"role":"user","content":"abcde"}]}`, 2},
		{"code-points-not-bytes", head + `"messages":[{"role":"user","content":"héllo wörld"}]}`, 3},
		{"system-string", head + `"system":"` + strings.Repeat("s", 40) + `","messages":[{"role":"user","content":"abcd"}]}`, 11},
		{"system-blocks", head + `"system":[{"type":"text","text":"` + strings.Repeat("s", 40) + `"}],"messages":[{"role":"user","content":"abcd"}]}`, 11},
		{"turns", head + `"messages":[{"role":"user","content":"abcd"},{"role":"assistant","content":[{"type":"text","text":"efgh"}]},{"role":"user","content":"ijkl"}]}`, 3},
		{"tool-use-and-result", head + `"messages":[` +
			`{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{"q":"x"}}]},` +
			`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"abcdefgh"},` +
			`{"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"abcd"}]}]}]}`, 6}, // 9 + 8 + 4 = 21 chars
		{"text-document", head + `"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"` +
			strings.Repeat("d", 80) + `"}}]}]}`, 20},
		{"images-and-thinking-count-nothing", head + `"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]},` +
			`{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"}]}]}`, 0},
	}
	proc, err := anthropic.New(anthropic.WithAPIKey(testKey))
	require.NoError(t, err)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := json.RawMessage(c.payload)
			u, err := proc.EstimateUsage(p)
			require.NoError(t, err)
			assert.Equal(t, llmqueue.Usage{InputTokens: c.input, OutputTokens: 300}, u)
			n, err := proc.EstimateTokens(p)
			require.NoError(t, err)
			assert.Equal(t, c.input+300, n)
		})
	}
	_, err = proc.EstimateTokens(json.RawMessage(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload, "no max_tokens, no estimate")
}

// countServer is a fake count_tokens endpoint.
type countServer struct {
	*httptest.Server
	calls    atomic.Int64
	lastBody atomic.Pointer[map[string]json.RawMessage]
}

func newCountServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *countServer {
	t.Helper()
	s := &countServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages/count_tokens" {
			http.NotFound(w, r)
			return
		}
		s.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		var body map[string]json.RawMessage
		_ = json.Unmarshal(b, &body)
		s.lastBody.Store(&body)
		handle(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestAnthropic_EstimateWithTokenCounting(t *testing.T) {
	p := json.RawMessage(`{"model":"claude-haiku-4-5","max_tokens":200,"temperature":0.2,"stop_sequences":["x"],` +
		`"system":"be brief","tools":[{"name":"f","input_schema":{"type":"object"}}],` +
		`"messages":[{"role":"user","content":"` + strings.Repeat("a", 40) + `"}]}`)
	heuristic := int64((len("be brief") + 40 + 3) / 4)

	t.Run("counted", func(t *testing.T) {
		srv := newCountServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"input_tokens":412}`)
		})
		proc, err := anthropic.New(anthropic.WithAPIKey(testKey), anthropic.WithBaseURL(srv.URL), anthropic.WithTokenCounting())
		require.NoError(t, err)
		u, err := proc.EstimateUsage(p)
		require.NoError(t, err)
		assert.Equal(t, llmqueue.Usage{InputTokens: 412, OutputTokens: 200}, u)
		body := *srv.lastBody.Load()
		for _, k := range []string{"model", "messages", "system", "tools"} {
			assert.Contains(t, body, k, "count_tokens gets what it counts")
		}
		for _, k := range []string{"max_tokens", "temperature", "stop_sequences"} {
			assert.NotContains(t, body, k, "count_tokens refuses what only a Messages call takes")
		}
		assert.Equal(t, int64(1), srv.calls.Load(), "one call per estimate")
	})

	fallbacks := []struct {
		name   string
		status int
		body   string
	}{
		{"rate-limited", 429, anthropicError("rate_limit_error", "Number of requests has exceeded your per-minute rate limit.")},
		{"overloaded", 529, anthropicError("overloaded_error", "Overloaded")},
		{"auth", 401, anthropicError("authentication_error", "invalid x-api-key")},
		{"not-json", 200, "{oops"},
	}
	for _, c := range fallbacks {
		t.Run("falls-back-when-"+c.name, func(t *testing.T) {
			srv := newCountServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body)
			})
			proc, err := anthropic.New(anthropic.WithAPIKey(testKey), anthropic.WithBaseURL(srv.URL), anthropic.WithTokenCounting())
			require.NoError(t, err)
			u, err := proc.EstimateUsage(p)
			require.NoError(t, err, "a failed count keeps the heuristic")
			assert.Equal(t, llmqueue.Usage{InputTokens: heuristic, OutputTokens: 200}, u)
			assert.Equal(t, int64(1), srv.calls.Load(), "the SDK does not retry")
		})
	}

	t.Run("falls-back-after-timeout", func(t *testing.T) {
		srv := newCountServer(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		})
		proc, err := anthropic.New(anthropic.WithAPIKey(testKey), anthropic.WithBaseURL(srv.URL), anthropic.WithTokenCounting(),
			anthropic.WithTimeout(100*time.Millisecond))
		require.NoError(t, err)
		start := time.Now()
		u, err := proc.EstimateUsage(p)
		require.NoError(t, err)
		assert.Less(t, time.Since(start), 3*time.Second, "bounded by WithTimeout")
		assert.Equal(t, heuristic, u.InputTokens)
	})

	t.Run("refused-payload-fails-the-estimate", func(t *testing.T) {
		srv := newCountServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, anthropicError("invalid_request_error", "messages.0.content.0.type: unknown block type"))
		})
		proc, err := anthropic.New(anthropic.WithAPIKey(testKey), anthropic.WithBaseURL(srv.URL), anthropic.WithTokenCounting())
		require.NoError(t, err)
		_, err = proc.EstimateTokens(p)
		require.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
		assert.Contains(t, err.Error(), "unknown block type")
	})
}

// splitEstimator is a UsageEstimator with a fixed answer.
type splitEstimator struct{ u llmqueue.Usage }

func (s splitEstimator) EstimateTokens(json.RawMessage) (int64, error) { return s.u.Total(), nil }
func (s splitEstimator) EstimateUsage(json.RawMessage) (llmqueue.Usage, error) {
	return s.u, nil
}

// totalEstimator is an Estimator that cannot split its answer.
type totalEstimator int64

func (e totalEstimator) EstimateTokens(json.RawMessage) (int64, error) { return int64(e), nil }

func TestAnthropic_WithEstimator(t *testing.T) {
	p := payload("hi", 50)
	proc, err := anthropic.New(anthropic.WithEstimator(splitEstimator{llmqueue.Usage{InputTokens: 7, OutputTokens: 11}}))
	require.NoError(t, err)
	u, err := proc.EstimateUsage(p)
	require.NoError(t, err)
	assert.Equal(t, llmqueue.Usage{InputTokens: 7, OutputTokens: 11}, u, "a UsageEstimator's split is kept")

	proc, err = anthropic.New(anthropic.WithEstimator(totalEstimator(61)))
	require.NoError(t, err)
	u, err = proc.EstimateUsage(p)
	require.NoError(t, err)
	assert.Equal(t, llmqueue.Usage{InputTokens: 61}, u, "a plain Estimator's total counts as input")
	n, err := proc.EstimateTokens(p)
	require.NoError(t, err)
	assert.Equal(t, int64(61), n)
}
