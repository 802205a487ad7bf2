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

// Server is what the conformance suite needs of a fake server; both
// *OpenAIServer and *BedrockServer implement it.
type Server interface {
	Inject(faults ...Fault)
	Stats() Stats
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
	proc, srv := h.Start(t, Setup{Limits: Limits{TPM: 100000, RPM: 100}})
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
	st := srv.Stats()
	assert.Equal(t, int64(1), st.Requests)
	assert.Equal(t, int64(1), st.Completed)
	assert.Equal(t, int64(65), st.TokensCharged)
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

func testWaitHeaders(t *testing.T, h Harness) {
	date := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(http.TimeFormat) }
	cases := []struct {
		name      string
		header    http.Header
		want, tol time.Duration
	}{
		{"none", nil, 0, 0},
		{"retry-after-ms", http.Header{"Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond, 0},
		{"retry-after-seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second, 0},
		{"retry-after-http-date", http.Header{"Retry-After": {date(20 * time.Second)}}, 20 * time.Second, 2 * time.Second},
		{"reset-tokens-minutes", http.Header{"X-Ratelimit-Reset-Tokens": {"6m0s"}}, 6 * time.Minute, 0},
		{"reset-tokens-compound", http.Header{"X-Ratelimit-Reset-Tokens": {"1h2m3.5s"}}, time.Hour + 2*time.Minute + 3500*time.Millisecond, 0},
		{"reset-requests-ms", http.Header{"X-Ratelimit-Reset-Requests": {"20ms"}}, 20 * time.Millisecond, 0},
		{"reset-requests-exhausted", http.Header{
			"X-Ratelimit-Reset-Requests": {"1s"}, "X-Ratelimit-Remaining-Requests": {"0"},
			"X-Ratelimit-Reset-Tokens": {"9s"}, "X-Ratelimit-Remaining-Tokens": {"5000"},
		}, time.Second, 0},
		{"ms-beats-seconds", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond, 0},
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
	if h.RateLimitHeaders {
		assert.Positive(t, rate.RetryAfter, "the wait comes from the 429's headers")
		time.Sleep(rate.RetryAfter)
		_, err = proc.Process(context.Background(), job(p))
		require.NoError(t, err, "after the wait the call fits")
	}
	st := srv.Stats()
	assert.Equal(t, int64(1), st.RateLimited)
	assert.LessOrEqual(t, st.PeakWindowTokens, int64(120))
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
