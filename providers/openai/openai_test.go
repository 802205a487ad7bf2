package openai_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	goopenai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers"
	"github.com/llmqueue/llmqueue/providers/openai"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

func process(t *testing.T, p *openai.Processor, payload json.RawMessage) (*llmqueue.Result, error) {
	t.Helper()
	return p.Process(context.Background(), &llmqueue.Job{ID: "t", Payload: payload, Attempt: 1})
}

func TestOpenAI_StatusCodes(t *testing.T) {
	cases := []struct {
		status int
		code   string
		target any
		kind   error
	}{
		{429, "rate_limit_exceeded", new(*llmqueue.RateLimitedError), providers.ErrRateLimited},
		{429, "insufficient_quota", new(*llmqueue.PermanentError), providers.ErrQuota},
		{401, "invalid_api_key", new(*llmqueue.PermanentError), providers.ErrAuth},
		{403, "unsupported_country_region_territory", new(*llmqueue.PermanentError), providers.ErrAuth},
		{400, "context_length_exceeded", new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{404, "model_not_found", new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{422, "unprocessable", new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{408, "timeout", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{409, "conflict", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{500, "server_error", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{502, "", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{503, "", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{504, "", new(*llmqueue.RetryableError), providers.ErrUnavailable},
	}
	proc, srv := start(t, providertest.Setup{})
	for _, c := range cases {
		t.Run(http.StatusText(c.status)+"/"+c.code, func(t *testing.T) {
			srv.Inject(providertest.Fault{Kind: providertest.FaultCustom, Status: c.status, Code: c.code, Message: "provider says " + c.code})
			_, err := process(t, proc, payload("hi", 5))
			require.ErrorAs(t, err, c.target)
			assert.ErrorIs(t, err, c.kind)
			assert.Contains(t, err.Error(), "provider says "+c.code, "the provider's message is kept")
			var apiErr *goopenai.APIError
			require.ErrorAs(t, err, &apiErr, "the SDK's error stays in the chain")
			assert.Equal(t, c.status, apiErr.HTTPStatusCode)
		})
	}
}

func TestOpenAI_InsufficientQuotaIgnoresWaitHeaders(t *testing.T) {
	proc, srv := start(t, providertest.Setup{})
	srv.Inject(providertest.Fault{Kind: providertest.FaultQuota, Header: http.Header{"Retry-After": {"1"}}})
	_, err := process(t, proc, payload("hi", 5))
	var perm *llmqueue.PermanentError
	require.ErrorAs(t, err, &perm, "billing is not a rate limit: never retry it")
	assert.ErrorIs(t, err, providers.ErrQuota)
}

// rawServer answers every request with status, headers and body verbatim,
// and records the last request's headers.
func rawServer(t *testing.T, status int, header http.Header, body string) (*httptest.Server, *http.Header) {
	t.Helper()
	var seen http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestOpenAI_NonOpenAIErrorBodies(t *testing.T) {
	cases := []struct {
		name   string
		status int
		header http.Header
		body   string
		target any
		wait   time.Duration
	}{
		{"429-text-from-proxy", 429, http.Header{"Retry-After": {"4"}}, "slow down", new(*llmqueue.RateLimitedError), 4 * time.Second},
		{"429-azure-numeric-code", 429, http.Header{"Retry-After-Ms": {"800"}}, `{"error":{"code":429,"message":"Requests to the ChatCompletions_Create Operation have exceeded the token rate limit."}}`, new(*llmqueue.RateLimitedError), 800 * time.Millisecond},
		{"401-html", 401, nil, "<html>denied</html>", new(*llmqueue.PermanentError), 0},
		{"400-empty", 400, nil, "", new(*llmqueue.PermanentError), 0},
		{"500-html", 500, nil, "<html>oops</html>", new(*llmqueue.RetryableError), 0},
		{"200-garbage", 200, nil, "{not json", new(*llmqueue.RetryableError), 0},
		{"200-truncated", 200, nil, `{"id":"x","choices":[`, new(*llmqueue.RetryableError), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := rawServer(t, c.status, c.header, c.body)
			proc, err := openai.New(openai.WithBaseURL(srv.URL + "/v1"))
			require.NoError(t, err)
			_, err = process(t, proc, payload("hi", 5))
			require.ErrorAs(t, err, c.target, "%v", err)
			if rate, ok := c.target.(**llmqueue.RateLimitedError); ok {
				assert.Equal(t, c.wait, (*rate).RetryAfter)
			}
		})
	}
}

func TestOpenAI_SendsKeyAndOrganization(t *testing.T) {
	srv, seen := rawServer(t, 200, http.Header{"Content-Type": {"application/json"}},
		`{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`)
	proc, err := openai.New(openai.WithAPIKey("sk-secret"), openai.WithOrganization("org-1"),
		openai.WithBaseURL(srv.URL+"/v1"), openai.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	require.NoError(t, err)
	res, err := process(t, proc, payload("hi", 5))
	require.NoError(t, err)
	assert.Equal(t, "Bearer sk-secret", seen.Get("Authorization"))
	assert.Equal(t, "org-1", seen.Get("OpenAI-Organization"))
	assert.Equal(t, llmqueue.Usage{InputTokens: 3, OutputTokens: 2}, res.Usage)
	assert.Nil(t, res.RateLimit, "no x-ratelimit headers, no info")
	var out goopenai.ChatCompletionResponse
	require.NoError(t, json.Unmarshal(res.Output, &out))
	assert.Equal(t, "hi", out.Choices[0].Message.Content)
}

func TestOpenAI_KeyNeverInErrors(t *testing.T) {
	srv := providertest.NewOpenAIServer(providertest.OpenAIOptions{APIKey: "sk-right"})
	t.Cleanup(srv.Close)
	proc, err := openai.New(openai.WithAPIKey("sk-wrong-and-secret"), openai.WithBaseURL(srv.BaseURL()))
	require.NoError(t, err)
	_, err = process(t, proc, payload("hi", 5))
	var perm *llmqueue.PermanentError
	require.ErrorAs(t, err, &perm)
	assert.ErrorIs(t, err, providers.ErrAuth)
	assert.NotContains(t, err.Error(), "sk-wrong-and-secret")
}

func TestOpenAI_PreflightRefusalIsPermanent(t *testing.T) {
	proc, srv := start(t, providertest.Setup{})
	p, _ := json.Marshal(goopenai.ChatCompletionRequest{
		Model:    goopenai.GPT3TextDavinci003, // a completions-only model
		Messages: []goopenai.ChatCompletionMessage{{Role: "user", Content: "hi"}},
	})
	_, err := process(t, proc, p)
	var perm *llmqueue.PermanentError
	require.ErrorAs(t, err, &perm)
	assert.ErrorIs(t, err, providers.ErrBadRequest)
	assert.ErrorIs(t, err, goopenai.ErrChatCompletionInvalidModel)
	assert.Zero(t, srv.Stats().Requests)
}

func TestOpenAI_ValidateRefusesReasoningMaxTokens(t *testing.T) {
	proc, _ := start(t, providertest.Setup{})
	p := json.RawMessage(`{"model":"o3-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":10}`)
	err := proc.Validate(p)
	assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
	assert.ErrorIs(t, err, goopenai.ErrReasoningModelMaxTokensDeprecated)
	assert.NoError(t, proc.Validate(json.RawMessage(`{"model":"o3-mini","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":10}`)))
}

// fixedEstimator is an Estimator that only knows a total.
type fixedEstimator int64

func (f fixedEstimator) EstimateTokens(json.RawMessage) (int64, error) { return int64(f), nil }

// usageEstimator is an Estimator that also splits its estimate.
type usageEstimator struct{ fixedEstimator }

func (usageEstimator) EstimateUsage(json.RawMessage) (llmqueue.Usage, error) {
	return llmqueue.Usage{InputTokens: 7, OutputTokens: 11}, nil
}

func TestOpenAI_WithEstimatorOverrides(t *testing.T) {
	p := payload(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20), 256)
	cases := []struct {
		name  string
		est   llmqueue.Estimator
		usage llmqueue.Usage
		total int64
	}{
		{"plain estimator: all of it is input", fixedEstimator(481), llmqueue.Usage{InputTokens: 481}, 481},
		{"usage estimator: its split", usageEstimator{}, llmqueue.Usage{InputTokens: 7, OutputTokens: 11}, 18},
		{"negative is nothing", fixedEstimator(-3), llmqueue.Usage{}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proc, err := openai.New(openai.WithEstimator(c.est))
			require.NoError(t, err)
			u, err := proc.EstimateUsage(p)
			require.NoError(t, err)
			assert.Equal(t, c.usage, u)
			n, err := proc.EstimateTokens(p)
			require.NoError(t, err)
			assert.Equal(t, c.total, n)
		})
	}
}

func TestOpenAI_MeterForIsOpenAIMeter(t *testing.T) {
	proc, err := openai.New()
	require.NoError(t, err)
	for _, p := range []json.RawMessage{payload("hi", 5), json.RawMessage(`{"model":"gpt-4.1","messages":[{"role":"user","content":"x"}]}`), nil, json.RawMessage(`{`)} {
		assert.Equal(t, llmqueue.OpenAIMeter{}, proc.MeterFor(p), "%s", p)
	}
}

func TestOpenAI_RateLimitInfoReadsLimits(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"success", 200, `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`},
		{"429", 429, `{"error":{"message":"Rate limit reached for gpt-4o-mini on tokens per min (TPM): Limit 30000, Used 30000, Requested 120.","type":"tokens","code":"rate_limit_exceeded"}}`},
	}
	header := http.Header{
		"Content-Type":                   {"application/json"},
		"X-Ratelimit-Limit-Tokens":       {"30000"},
		"X-Ratelimit-Limit-Requests":     {"500"},
		"X-Ratelimit-Remaining-Tokens":   {"0"},
		"X-Ratelimit-Remaining-Requests": {"499"},
		"X-Ratelimit-Reset-Tokens":       {"240ms"},
		"X-Ratelimit-Reset-Requests":     {"120ms"},
	}
	want := &llmqueue.RateLimitInfo{
		LimitTokens: 30000, LimitRequests: 500, RemainingTokens: 0, RemainingRequests: 499,
		ResetTokens: 240 * time.Millisecond, ResetRequests: 120 * time.Millisecond,
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := rawServer(t, c.status, header, c.body)
			proc, err := openai.New(openai.WithBaseURL(srv.URL + "/v1"))
			require.NoError(t, err)
			res, err := process(t, proc, payload("hi", 5))
			if c.status == 200 {
				require.NoError(t, err)
				assert.Equal(t, want, res.RateLimit)
				return
			}
			var rl *llmqueue.RateLimitedError
			require.ErrorAs(t, err, &rl)
			assert.Equal(t, want, rl.Info, "the 429's own headers")
			assert.Equal(t, 240*time.Millisecond, rl.RetryAfter, "the exhausted tokens' reset")
			assert.ErrorIs(t, err, providers.ErrRateLimited)
			var apiErr *goopenai.APIError
			assert.ErrorAs(t, err, &apiErr, "the SDK's error stays in the chain")
		})
	}
}

func TestOpenAI_NewValidatesOptions(t *testing.T) {
	client := goopenai.NewClient("k")
	_, err := openai.New(openai.WithClient(client), openai.WithAPIKey("k"))
	assert.Error(t, err, "a client with client settings")
	_, err = openai.New(openai.WithClientConfig(goopenai.DefaultAzureConfig("k", "https://x.openai.azure.com")), openai.WithAPIKey("k"))
	assert.Error(t, err, "a key with a config")
	_, err = openai.New(openai.WithTimeout(-time.Second))
	assert.Error(t, err)
	_, err = openai.New(nil)
	assert.Error(t, err)
	_, err = openai.New(openai.WithDefaultMaxTokens(0))
	assert.Error(t, err, "zero default max tokens")
	_, err = openai.New(openai.WithDefaultMaxTokens(-5))
	assert.Error(t, err, "negative default max tokens")

	_, err = openai.New(openai.WithClient(client), openai.WithTimeout(time.Second))
	assert.NoError(t, err)
	_, err = openai.New(openai.WithClientConfig(goopenai.DefaultAzureConfig("k", "https://x.openai.azure.com")), openai.WithHTTPClient(http.DefaultClient))
	assert.NoError(t, err)
}

func TestOpenAI_WithClientTalksToServer(t *testing.T) {
	srv := providertest.NewOpenAIServer(providertest.OpenAIOptions{})
	t.Cleanup(srv.Close)
	cfg := goopenai.DefaultConfig("")
	cfg.BaseURL = srv.BaseURL()
	proc, err := openai.New(openai.WithClient(goopenai.NewClientWithConfig(cfg)))
	require.NoError(t, err)
	res, err := process(t, proc, payload("abcdefgh", 7))
	require.NoError(t, err)
	assert.Equal(t, llmqueue.Usage{InputTokens: 2, OutputTokens: 7}, res.Usage)
}
