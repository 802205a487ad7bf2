package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers"
)

// Server is what the conformance suite needs of a fake server;
// *OpenAIServer, *BedrockServer and *AnthropicServer implement it.
type Server interface {
	Inject(faults ...Fault)
	Stats() Stats
	Calls() []Call
	Close()
}

// Setup is how the conformance suite wants a processor built.
type Setup struct {
	// Limits are the fake server's limits.
	Limits Limits
	// Timeout is the processor's per-call timeout (zero: none).
	Timeout time.Duration
}

// Harness adapts one provider adapter to RunConformance, the way river's
// riverdrivertest adapts a database driver.
type Harness struct {
	// Start starts a fresh fake server and returns a processor that talks
	// to it through the adapter's real SDK client. The harness closes the
	// server with t.Cleanup.
	Start func(t *testing.T, s Setup) (llmqueue.Processor, Server)
	// Payload returns a valid payload whose only message is prompt and
	// whose max output tokens is maxTokens.
	Payload func(prompt string, maxTokens int) json.RawMessage
	// InvalidPayloads must be refused with a permanent error wrapping
	// llmqueue.ErrInvalidPayload, without reaching the server.
	InvalidPayloads []json.RawMessage
	// RateLimitHeaders says the provider reports its remaining budget in
	// x-ratelimit-* headers (OpenAI does, Bedrock does not).
	RateLimitHeaders bool
	// AnthropicHeaders says the provider reports its remaining budget in
	// anthropic-ratelimit-* headers, per dimension with RFC 3339 reset
	// times, and always puts retry-after on a 429 (Anthropic does).
	AnthropicHeaders bool
	// QuotaIsPermanent says FaultQuota is billing, a permanent failure
	// (OpenAI insufficient_quota), rather than a rate limit (Bedrock
	// ServiceQuotaExceededException).
	QuotaIsPermanent bool
}

// RunConformance checks that an adapter behaves like every other: usage
// reported, each failure class mapped the same way, the wait read from every
// header form, per-call timeouts retried, the job's cancellation left alone.
func RunConformance(t *testing.T, h Harness) {
	t.Run("Success_ReportsUsageAndOutput", func(t *testing.T) { testSuccess(t, h) })
	t.Run("Estimate_CoversMaxTokens", func(t *testing.T) { testEstimate(t, h) })
	t.Run("InvalidPayload_PermanentWithoutCall", func(t *testing.T) { testInvalid(t, h) })
	t.Run("Faults_MapToErrorClasses", func(t *testing.T) { testFaults(t, h) })
	t.Run("RateLimit_WaitFromEachHeaderForm", func(t *testing.T) { testWaitHeaders(t, h) })
	t.Run("LimitEnforced_429IsRateLimited", func(t *testing.T) { testLimitEnforced(t, h) })
	t.Run("PerCallTimeout_Retryable", func(t *testing.T) { testPerCallTimeout(t, h) })
	t.Run("JobCanceled_NotClassified", func(t *testing.T) { testJobCanceled(t, h) })
	t.Run("ServerDown_Retryable", func(t *testing.T) { testServerDown(t, h) })
}

func job(payload json.RawMessage) *llmqueue.Job {
	return &llmqueue.Job{ID: "conformance", Payload: payload, Attempt: 1}
}

func testSuccess(t *testing.T, h Harness) {
	proc, srv := h.Start(t, Setup{Limits: Limits{TPM: 100000, ITPM: 50000, OTPM: 20000, RPM: 100}})
	prompt := strings.Repeat("abcd", 25) // 100 characters: 25 tokens on the fake
	res, err := proc.Process(context.Background(), job(h.Payload(prompt, 40)))
	require.NoError(t, err)
	require.NotNil(t, res)
	assert.Equal(t, llmqueue.Usage{InputTokens: 25, OutputTokens: 40}, res.Usage)
	assert.True(t, json.Valid(res.Output), "output is JSON: %s", res.Output)
	assert.Contains(t, string(res.Output), "ok")
	if h.RateLimitHeaders {
		require.NotNil(t, res.RateLimit, "remaining budget read from the headers")
		assert.Equal(t, int64(100000-65), res.RateLimit.RemainingTokens)
		assert.Equal(t, int64(99), res.RateLimit.RemainingRequests)
		assert.Positive(t, res.RateLimit.ResetTokens)
	}
	if h.AnthropicHeaders {
		require.NotNil(t, res.RateLimit, "remaining budget read from the headers")
		assert.Equal(t, int64(100000-65), res.RateLimit.RemainingTokens)
		assert.Equal(t, int64(99), res.RateLimit.RemainingRequests)
		assert.Equal(t, int64(50000), res.RateLimit.LimitInputTokens)
		assert.Equal(t, int64(50000-25), res.RateLimit.RemainingInputTokens)
		assert.Equal(t, int64(20000), res.RateLimit.LimitOutputTokens)
		assert.Equal(t, int64(20000-40), res.RateLimit.RemainingOutputTokens)
		assert.Positive(t, res.RateLimit.ResetOutputTokens)
	}
	st := srv.Stats()
	assert.Equal(t, int64(1), st.Requests)
	assert.Equal(t, int64(1), st.Completed)
	assert.Equal(t, int64(65), st.TokensCharged)
	calls := srv.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, Call{At: calls[0].At, Tokens: 65, InputTokens: 25, OutputTokens: 40}, calls[0])
}

func testEstimate(t *testing.T, h Harness) {
	proc, _ := h.Start(t, Setup{})
	est, ok := proc.(llmqueue.Estimator)
	require.True(t, ok, "adapters implement llmqueue.Estimator")
	n, err := est.EstimateTokens(h.Payload(strings.Repeat("hello world ", 10), 300))
	require.NoError(t, err)
	assert.Greater(t, n, int64(300), "the estimate covers the prompt and max tokens")
	assert.Less(t, n, int64(400))
}

func testInvalid(t *testing.T, h Harness) {
	proc, srv := h.Start(t, Setup{})
	val, ok := proc.(llmqueue.Validator)
	require.True(t, ok, "adapters implement llmqueue.Validator")
	for _, p := range append([]json.RawMessage{nil, json.RawMessage(`{`), json.RawMessage(`[]`)}, h.InvalidPayloads...) {
		assert.ErrorIs(t, val.Validate(p), llmqueue.ErrInvalidPayload, "Validate(%s)", p)
		_, err := proc.Process(context.Background(), job(p))
		var perm *llmqueue.PermanentError
		assert.ErrorAs(t, err, &perm, "Process(%s)", p)
		assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload, "Process(%s)", p)
	}
	assert.NoError(t, val.Validate(h.Payload("fine", 10)))
	assert.Zero(t, srv.Stats().Requests, "nothing invalid reaches the provider")
}

// class names the queue's error classes for table tests.
type class int

const (
	classPermanent class = iota + 1
	classRateLimited
	classRetryable
)

func classOf(err error) class {
	var (
		perm  *llmqueue.PermanentError
		rate  *llmqueue.RateLimitedError
		retry *llmqueue.RetryableError
	)
	switch {
	case errors.As(err, &perm):
		return classPermanent
	case errors.As(err, &rate):
		return classRateLimited
	case errors.As(err, &retry):
		return classRetryable
	}
	return 0
}

func testFaults(t *testing.T, h Harness) {
	quota := struct {
		class class
		kind  error
	}{classRateLimited, providers.ErrRateLimited}
	if h.QuotaIsPermanent {
		quota.class, quota.kind = classPermanent, providers.ErrQuota
	}
	cases := []struct {
		fault Fault
		class class
		kind  error
	}{
		{Fault{Kind: FaultRateLimit}, classRateLimited, providers.ErrRateLimited},
		{Fault{Kind: FaultQuota}, quota.class, quota.kind},
		{Fault{Kind: FaultAuth}, classPermanent, providers.ErrAuth},
		{Fault{Kind: FaultBadRequest, Message: "temperature is out of range (provider says so)"}, classPermanent, providers.ErrBadRequest},
		{Fault{Kind: FaultNotFound, Message: "no such model: gpt-nope"}, classPermanent, providers.ErrBadRequest},
		{Fault{Kind: FaultServer}, classRetryable, providers.ErrUnavailable},
		{Fault{Kind: FaultUnavailable}, classRetryable, providers.ErrUnavailable},
		{Fault{Kind: FaultModelTimeout}, classRetryable, providers.ErrUnavailable},
		{Fault{Kind: FaultNotJSON}, classRetryable, providers.ErrUnavailable},
		{Fault{Kind: FaultDisconnect}, classRetryable, providers.ErrUnavailable},
	}
	proc, srv := h.Start(t, Setup{Timeout: 10 * time.Second})
	for _, c := range cases {
		t.Run(c.fault.Kind.String(), func(t *testing.T) {
			srv.Inject(c.fault)
			_, err := proc.Process(context.Background(), job(h.Payload("hi", 5)))
			require.Error(t, err)
			assert.Equal(t, c.class, classOf(err), "class of %v", err)
			assert.ErrorIs(t, err, c.kind)
			if c.fault.Message != "" {
				assert.Contains(t, err.Error(), c.fault.Message, "the provider's message is kept")
			}
		})
	}
	t.Run("unavailable-with-retry-after", func(t *testing.T) {
		srv.Inject(Fault{Kind: FaultUnavailable, Header: http.Header{"Retry-After": {"2"}}})
		_, err := proc.Process(context.Background(), job(h.Payload("hi", 5)))
		var retry *llmqueue.RetryableError
		require.ErrorAs(t, err, &retry)
		assert.Equal(t, 2*time.Second, retry.After)
	})
	// The fault queue is drained: the next call succeeds.
	_, err := proc.Process(context.Background(), job(h.Payload("hi", 5)))
	require.NoError(t, err)
}

// waitCase is one way a 429 can say how long to wait.
type waitCase struct {
	name      string
	header    http.Header
	want, tol time.Duration
}

func testWaitHeaders(t *testing.T, h Harness) {
	date := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(http.TimeFormat) }
	cases := []waitCase{
		{"retry-after-seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second, 0},
		{"retry-after-http-date", http.Header{"Retry-After": {date(20 * time.Second)}}, 20 * time.Second, 2 * time.Second},
	}
	if h.AnthropicHeaders {
		cases = append(cases, anthropicWaitCases()...)
	} else {
		cases = append(cases, openAIWaitCases()...)
	}
	proc, srv := h.Start(t, Setup{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.Inject(Fault{Kind: FaultRateLimit, Header: c.header})
			_, err := proc.Process(context.Background(), job(h.Payload("hi", 5)))
			var rate *llmqueue.RateLimitedError
			require.ErrorAs(t, err, &rate)
			assert.InDelta(t, float64(c.want), float64(rate.RetryAfter), float64(c.tol), "got %v", rate.RetryAfter)
		})
	}
}

// openAIWaitCases are the x-ratelimit-* and retry-after-ms forms (OpenAI,
// and what Bedrock's adapter reads when a proxy sends them).
func openAIWaitCases() []waitCase {
	return []waitCase{
		{"none", nil, 0, 0},
		{"retry-after-ms", http.Header{"Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond, 0},
		{"reset-tokens-minutes", http.Header{"X-Ratelimit-Reset-Tokens": {"6m0s"}}, 6 * time.Minute, 0},
		{"reset-tokens-compound", http.Header{"X-Ratelimit-Reset-Tokens": {"1h2m3.5s"}}, time.Hour + 2*time.Minute + 3500*time.Millisecond, 0},
		{"reset-requests-ms", http.Header{"X-Ratelimit-Reset-Requests": {"20ms"}}, 20 * time.Millisecond, 0},
		{"reset-requests-exhausted", http.Header{
			"X-Ratelimit-Reset-Requests": {"1s"}, "X-Ratelimit-Remaining-Requests": {"0"},
			"X-Ratelimit-Reset-Tokens": {"9s"}, "X-Ratelimit-Remaining-Tokens": {"5000"},
		}, time.Second, 0},
		{"ms-beats-seconds", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond, 0},
	}
}

// anthropicWaitCases are the forms Anthropic sends: a 429 always carries
// retry-after (the fake adds "1" to a fault that sets no header), and the
// anthropic-ratelimit-*-reset times say when an exhausted dimension is
// replenished.
func anthropicWaitCases() []waitCase {
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	return []waitCase{
		{"default-retry-after", nil, time.Second, 0},
		{"reset-output-exhausted", http.Header{
			"Anthropic-Ratelimit-Output-Tokens-Remaining": {"0"}, "Anthropic-Ratelimit-Output-Tokens-Reset": {at(20 * time.Second)},
			"Anthropic-Ratelimit-Input-Tokens-Remaining": {"5000"}, "Anthropic-Ratelimit-Input-Tokens-Reset": {at(50 * time.Second)},
		}, 20 * time.Second, 2 * time.Second},
		{"retry-after-beats-reset", http.Header{
			"Retry-After": {"3"},
			"Anthropic-Ratelimit-Output-Tokens-Remaining": {"0"}, "Anthropic-Ratelimit-Output-Tokens-Reset": {at(20 * time.Second)},
		}, 3 * time.Second, 0},
	}
}

func testLimitEnforced(t *testing.T, h Harness) {
	window := 2 * time.Second
	// Each call costs ceil(8/4) + 48 = 50 tokens; the limit admits two.
	proc, srv := h.Start(t, Setup{Limits: Limits{TPM: 120, Window: window}})
	p := h.Payload("abcdefgh", 48)
	for range 2 {
		_, err := proc.Process(context.Background(), job(p))
		require.NoError(t, err)
	}
	_, err := proc.Process(context.Background(), job(p))
	var rate *llmqueue.RateLimitedError
	require.ErrorAs(t, err, &rate, "the third call in the window is refused")
	assert.ErrorIs(t, err, providers.ErrRateLimited)
	assert.LessOrEqual(t, rate.RetryAfter, window+time.Second)
	if h.RateLimitHeaders || h.AnthropicHeaders {
		assert.Positive(t, rate.RetryAfter, "the wait comes from the 429's headers")
		time.Sleep(rate.RetryAfter)
		_, err = proc.Process(context.Background(), job(p))
		require.NoError(t, err, "after the wait the call fits")
	}
	st := srv.Stats()
	assert.Equal(t, int64(1), st.RateLimited)
	assert.LessOrEqual(t, st.PeakWindowTokens, int64(120))
	assert.LessOrEqual(t, BusiestWindow(srv.Calls(), window).Tokens, int64(120))
}

func testPerCallTimeout(t *testing.T, h Harness) {
	proc, srv := h.Start(t, Setup{Timeout: 200 * time.Millisecond})
	srv.Inject(Fault{Kind: FaultHang, Delay: 5 * time.Second})
	start := time.Now()
	_, err := proc.Process(context.Background(), job(h.Payload("hi", 5)))
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, classRetryable, classOf(err), "per-call timeout: %v", err)
	assert.ErrorIs(t, err, providers.ErrUnavailable)
}

func testJobCanceled(t *testing.T, h Harness) {
	proc, srv := h.Start(t, Setup{})
	srv.Inject(Fault{Kind: FaultHang, Delay: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := proc.Process(ctx, job(h.Payload("hi", 5)))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, classOf(err), "the queue decides what a canceled job means: %v", err)
}

func testServerDown(t *testing.T, h Harness) {
	proc, srv := h.Start(t, Setup{Timeout: 5 * time.Second})
	srv.Close()
	_, err := proc.Process(context.Background(), job(h.Payload("hi", 5)))
	assert.Equal(t, classRetryable, classOf(err), "network error: %v", err)
	assert.ErrorIs(t, err, providers.ErrUnavailable)
}
