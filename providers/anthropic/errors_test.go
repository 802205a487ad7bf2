package anthropic_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers"
	"github.com/llmqueue/llmqueue/providers/anthropic"
)

// reply is one canned HTTP response.
type reply struct {
	status int
	header http.Header
	body   string
}

// rawServer answers every request with r, counts the requests, and keeps
// the last one's headers and body.
type rawServer struct {
	*httptest.Server
	calls      atomic.Int64
	lastHeader atomic.Pointer[http.Header]
	lastBody   atomic.Pointer[[]byte]
}

func newRawServer(t *testing.T, r reply) *rawServer {
	t.Helper()
	s := &rawServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.calls.Add(1)
		h := req.Header.Clone()
		s.lastHeader.Store(&h)
		b, _ := io.ReadAll(req.Body)
		s.lastBody.Store(&b)
		for k, v := range r.header {
			w.Header()[k] = v
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(r.status)
		_, _ = io.WriteString(w, r.body)
	}))
	t.Cleanup(s.Close)
	return s
}

// process runs payload through a processor on srv.
func process(t *testing.T, srv *httptest.Server, p json.RawMessage, opts ...anthropic.Option) (*llmqueue.Result, error) {
	t.Helper()
	opts = append([]anthropic.Option{anthropic.WithAPIKey(testKey), anthropic.WithBaseURL(srv.URL)}, opts...)
	proc, err := anthropic.New(opts...)
	require.NoError(t, err)
	return proc.Process(context.Background(), &llmqueue.Job{ID: "t", Payload: p, Attempt: 1})
}

// anthropicError is Anthropic's error body.
func anthropicError(typ, message string) string {
	b, _ := json.Marshal(map[string]any{
		"type":       "error",
		"error":      map[string]any{"type": typ, "message": message},
		"request_id": "req_011CTest",
	})
	return string(b)
}

func TestAnthropic_ErrorMapping(t *testing.T) {
	rateLimitHeaders := http.Header{
		"Retry-After":                                {"27"},
		"Request-Id":                                 {"req_011CTest"},
		"Anthropic-Ratelimit-Requests-Limit":         {"50"},
		"Anthropic-Ratelimit-Requests-Remaining":     {"49"},
		"Anthropic-Ratelimit-Input-Tokens-Limit":     {"50000"},
		"Anthropic-Ratelimit-Input-Tokens-Remaining": {"0"},
		"Anthropic-Ratelimit-Input-Tokens-Reset":     {time.Now().Add(27 * time.Second).UTC().Format(time.RFC3339)},
	}
	spendLimit := `{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your specified API usage limits.",` +
		`"details":{"error_code":"enforced_spend_limit_reached"}},"request_id":"req_011CTest"}`
	cases := []struct {
		name    string
		reply   reply
		target  any
		kind    error
		message string
		wait    time.Duration
	}{
		{"429-rate-limit", reply{429, rateLimitHeaders, anthropicError("rate_limit_error",
			"This request would exceed the rate limit for your organization of 50,000 input tokens per minute.")},
			new(*llmqueue.RateLimitedError), providers.ErrRateLimited, "50,000 input tokens per minute", 27 * time.Second},
		{"429-ramp-limit", reply{429, http.Header{"Retry-After": {"4"}}, anthropicError("rate_limit_error", "Your usage is ramping up too quickly.")},
			new(*llmqueue.RateLimitedError), providers.ErrRateLimited, "ramping up", 4 * time.Second},
		{"429-spend-limit", reply{429, http.Header{"Retry-After": {"4"}}, spendLimit},
			new(*llmqueue.PermanentError), providers.ErrQuota, "usage limits", 0},
		{"529-overloaded", reply{529, nil, anthropicError("overloaded_error", "Overloaded")},
			new(*llmqueue.RetryableError), providers.ErrUnavailable, "Overloaded", 0},
		{"529-overloaded-retry-after", reply{529, http.Header{"Retry-After": {"3"}}, anthropicError("overloaded_error", "Overloaded")},
			new(*llmqueue.RetryableError), providers.ErrUnavailable, "Overloaded", 3 * time.Second},
		{"500-api-error", reply{500, nil, anthropicError("api_error", "Internal server error")},
			new(*llmqueue.RetryableError), providers.ErrUnavailable, "Internal server error", 0},
		{"502-html", reply{502, http.Header{"Content-Type": {"text/html"}}, "<html><h1>502 Bad Gateway</h1></html>"},
			new(*llmqueue.RetryableError), providers.ErrUnavailable, "502 Bad Gateway", 0},
		{"503-retry-after", reply{503, http.Header{"Retry-After": {"2"}}, anthropicError("api_error", "Service unavailable")},
			new(*llmqueue.RetryableError), providers.ErrUnavailable, "Service unavailable", 2 * time.Second},
		{"504-timeout", reply{504, nil, anthropicError("timeout_error", "Request timed out")},
			new(*llmqueue.RetryableError), providers.ErrUnavailable, "Request timed out", 0},
		{"401-auth", reply{401, nil, anthropicError("authentication_error", "invalid x-api-key")},
			new(*llmqueue.PermanentError), providers.ErrAuth, "invalid x-api-key", 0},
		{"403-permission", reply{403, nil, anthropicError("permission_error", "Your API key does not have permission to use the specified resource.")},
			new(*llmqueue.PermanentError), providers.ErrAuth, "does not have permission", 0},
		{"400-invalid", reply{400, nil, anthropicError("invalid_request_error", "messages.0.role: Input should be 'user' or 'assistant'")},
			new(*llmqueue.PermanentError), providers.ErrBadRequest, "Input should be 'user' or 'assistant'", 0},
		{"400-credit", reply{400, nil, anthropicError("invalid_request_error",
			"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.")},
			new(*llmqueue.PermanentError), providers.ErrQuota, "credit balance is too low", 0},
		{"402-billing", reply{402, nil, anthropicError("billing_error", "Payment required.")},
			new(*llmqueue.PermanentError), providers.ErrQuota, "Payment required", 0},
		{"404-not-found", reply{404, nil, anthropicError("not_found_error", "model: claude-nope")},
			new(*llmqueue.PermanentError), providers.ErrBadRequest, "model: claude-nope", 0},
		{"413-too-large", reply{413, nil, anthropicError("request_too_large", "Request exceeds the maximum allowed number of bytes.")},
			new(*llmqueue.PermanentError), providers.ErrBadRequest, "maximum allowed number of bytes", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newRawServer(t, c.reply)
			_, err := process(t, srv.Server, payload("hi", 5))
			require.ErrorAs(t, err, c.target, "%v", err)
			assert.ErrorIs(t, err, c.kind)
			assert.Contains(t, err.Error(), c.message, "the API's message is kept")
			var apiErr *sdk.Error
			require.ErrorAs(t, err, &apiErr, "the SDK's error stays in the chain")
			assert.Equal(t, c.reply.status, apiErr.StatusCode)
			switch target := c.target.(type) {
			case **llmqueue.RateLimitedError:
				assert.Equal(t, c.wait, (*target).RetryAfter)
			case **llmqueue.RetryableError:
				assert.Equal(t, c.wait, (*target).After)
			}
			assert.Equal(t, int64(1), srv.calls.Load(), "the SDK does not retry")
		})
	}
}

func TestAnthropic_RateLimitedCarriesInfo(t *testing.T) {
	reset := time.Now().Add(30 * time.Second).UTC().Format(time.RFC3339)
	srv := newRawServer(t, reply{429, http.Header{
		"Retry-After":                                 {"30"},
		"Anthropic-Ratelimit-Requests-Limit":          {"50"},
		"Anthropic-Ratelimit-Requests-Remaining":      {"42"},
		"Anthropic-Ratelimit-Requests-Reset":          {reset},
		"Anthropic-Ratelimit-Tokens-Limit":            {"8000"},
		"Anthropic-Ratelimit-Tokens-Remaining":        {"0"},
		"Anthropic-Ratelimit-Tokens-Reset":            {reset},
		"Anthropic-Ratelimit-Input-Tokens-Limit":      {"50000"},
		"Anthropic-Ratelimit-Input-Tokens-Remaining":  {"31000"},
		"Anthropic-Ratelimit-Input-Tokens-Reset":      {reset},
		"Anthropic-Ratelimit-Output-Tokens-Limit":     {"8000"},
		"Anthropic-Ratelimit-Output-Tokens-Remaining": {"0"},
		"Anthropic-Ratelimit-Output-Tokens-Reset":     {reset},
	}, anthropicError("rate_limit_error", "This request would exceed the rate limit for your organization of 8,000 output tokens per minute.")})
	_, err := process(t, srv.Server, payload("hi", 5))
	var rate *llmqueue.RateLimitedError
	require.ErrorAs(t, err, &rate)
	assert.Equal(t, 30*time.Second, rate.RetryAfter)
	require.NotNil(t, rate.Info, "the 429's headers are booked like a success's")
	info := *rate.Info
	for _, d := range []*time.Duration{&info.ResetRequests, &info.ResetTokens, &info.ResetInputTokens, &info.ResetOutputTokens} {
		assert.InDelta(t, float64(30*time.Second), float64(*d), float64(2*time.Second))
		*d = 0
	}
	assert.Equal(t, llmqueue.RateLimitInfo{
		LimitRequests: 50, RemainingRequests: 42,
		LimitTokens: 8000, RemainingTokens: 0,
		LimitInputTokens: 50000, RemainingInputTokens: 31000,
		LimitOutputTokens: 8000, RemainingOutputTokens: 0,
	}, info)
}

func TestAnthropic_TransportFailures(t *testing.T) {
	cases := []struct {
		name  string
		reply reply
	}{
		{"200-not-json", reply{200, nil, "{not json"}},
		{"200-truncated", reply{200, nil, `{"id":"msg_1","type":"message","content":[`}},
		{"200-html", reply{200, http.Header{"Content-Type": {"text/html"}}, "<html>hello</html>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newRawServer(t, c.reply)
			_, err := process(t, srv.Server, payload("hi", 5))
			var retry *llmqueue.RetryableError
			require.ErrorAs(t, err, &retry, "%v", err)
			assert.ErrorIs(t, err, providers.ErrUnavailable)
		})
	}
	t.Run("connection-refused", func(t *testing.T) {
		srv := newRawServer(t, reply{200, nil, "{}"})
		srv.Close()
		_, err := process(t, srv.Server, payload("hi", 5))
		var retry *llmqueue.RetryableError
		require.ErrorAs(t, err, &retry, "%v", err)
		assert.ErrorIs(t, err, providers.ErrUnavailable)
	})
}

func TestAnthropic_PerCallTimeoutVersusJobCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	_, err := process(t, srv, payload("hi", 5), anthropic.WithTimeout(100*time.Millisecond))
	var retry *llmqueue.RetryableError
	require.ErrorAs(t, err, &retry, "a per-call timeout is retried: %v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	proc, err := anthropic.New(anthropic.WithAPIKey(testKey), anthropic.WithBaseURL(srv.URL), anthropic.WithTimeout(time.Minute))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = proc.Process(ctx, &llmqueue.Job{ID: "t", Payload: payload("hi", 5), Attempt: 1})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var perm *llmqueue.PermanentError
	var rate *llmqueue.RateLimitedError
	assert.False(t, errors.As(err, &retry) || errors.As(err, &perm) || errors.As(err, &rate),
		"the job's own deadline is the queue's to classify: %v", err)
}
