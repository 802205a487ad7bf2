package providers_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/bedrock"
	"github.com/llmqueue/llmqueue/providers/openai"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// The burst tests' provider limit and window. The ledger keeps each
// reservation 2% longer than the window, to cover the moment between a
// lease and the call reaching the provider; a 5 s window gives that margin
// 100 ms, enough under the race detector on a small machine (2 s gave 40 ms,
// and lease-to-arrival delays above that let a few calls through early).
const (
	burstTPM    = 14000
	burstWindow = 5 * time.Second
)

// burst is one run of n requests through two worker processes.
type burst struct {
	n          int
	maxTokens  int
	serverTPM  int64
	queueTPM   int64
	window     time.Duration
	noHeaders  bool
	newProc    func(t *testing.T, b burst) (llmqueue.Processor, providertest.Server)
	payload    func(i, maxTokens int) json.RawMessage
	usageOfReq func(i, maxTokens int) llmqueue.Usage
}

// burstResult is what the fake server and the queue saw.
type burstResult struct {
	stats    providertest.Stats
	metrics  *llmqueue.Metrics
	statuses []*llmqueue.RequestStatus
	wall     time.Duration
}

func (b burst) limits() providertest.Limits {
	return providertest.Limits{TPM: b.serverTPM, Window: b.window}
}

func (b burst) run(t *testing.T) burstResult {
	t.Helper()
	ctx := context.Background()
	s := startRedis(t)
	proc, srv := b.newProc(t, b)
	est := proc.(llmqueue.Estimator)
	mc := llmqueue.Config{
		Namespace: "burst",
		Budget:    llmqueue.Budget{TPM: b.queueTPM, Window: b.window},
		Estimator: est,
		Validator: proc.(llmqueue.Validator),
	}
	qm := newProcess(t, s, nil, mc, llmqueue.WorkerConfig{}).Manager
	reqs := make([]*llmqueue.Request, b.n)
	for i := range reqs {
		reqs[i] = llmqueue.NewRequest(b.payload(i, b.maxTokens))
	}
	ids, err := qm.AddMany(ctx, reqs)
	require.NoError(t, err)

	start := time.Now()
	for range 2 {
		newProcess(t, s, proc, mc, llmqueue.WorkerConfig{Concurrency: 16, PollInterval: 20 * time.Millisecond})
	}
	statuses := waitAll(t, qm, ids, 2*time.Minute)
	wall := time.Since(start)
	m, err := qm.Metrics(ctx)
	require.NoError(t, err)
	for i, st := range statuses {
		require.Equal(t, llmqueue.StatusCompleted, st.Status, "%s: %s", st.ID, st.Error)
		// The usage the provider reported is what was recorded (and what
		// the ledger was reconciled to).
		assert.Equal(t, b.usageOfReq(i, b.maxTokens), st.Usage, "request %d", i)
	}
	return burstResult{stats: srv.Stats(), metrics: m, statuses: statuses, wall: wall}
}

// fakeUsage is what both fake servers report for a burst payload:
// ceil(prompt characters / 4) in, max tokens out.
func fakeUsage(i, maxTokens int) llmqueue.Usage {
	var p struct {
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	_ = json.Unmarshal(openAIPayload(i, maxTokens), &p)
	chars := len(p.Messages[0].Content)
	return llmqueue.Usage{InputTokens: int64((chars + 3) / 4), OutputTokens: int64(maxTokens)}
}

func openAIBurst(serverTPM, queueTPM int64) burst {
	return burst{
		n: 200, maxTokens: 100, serverTPM: serverTPM, queueTPM: queueTPM, window: burstWindow,
		newProc: func(t *testing.T, b burst) (llmqueue.Processor, providertest.Server) {
			srv := providertest.NewOpenAIServer(providertest.OpenAIOptions{
				Limits: b.limits(), APIKey: "sk-test", Latency: 20 * time.Millisecond, OmitRateLimitHeaders: b.noHeaders,
			})
			t.Cleanup(srv.Close)
			p, err := openai.New(openai.WithAPIKey("sk-test"), openai.WithBaseURL(srv.BaseURL()), openai.WithTimeout(10*time.Second))
			require.NoError(t, err)
			return p, srv
		},
		payload: openAIPayload, usageOfReq: fakeUsage,
	}
}

func bedrockBurst(serverTPM, queueTPM int64) burst {
	return burst{
		n: 200, maxTokens: 100, serverTPM: serverTPM, queueTPM: queueTPM, window: burstWindow,
		newProc: func(t *testing.T, b burst) (llmqueue.Processor, providertest.Server) {
			srv := providertest.NewBedrockServer(providertest.BedrockOptions{Limits: b.limits(), Latency: 20 * time.Millisecond})
			t.Cleanup(srv.Close)
			p, err := bedrock.New(context.Background(), bedrock.WithEndpoint(srv.URL), bedrock.WithTimeout(10*time.Second),
				bedrock.WithConfig(aws.Config{Region: providertest.TestRegion, Credentials: srv.Credentials()}))
			require.NoError(t, err)
			return p, srv
		},
		payload: bedrockPayload, usageOfReq: fakeUsage,
	}
}

// Acceptance: 200 requests through the fake OpenAI server whose TPM limit
// equals the queue's: zero 429s, and no window over the limit.
func TestProviders_OpenAIBurstAtTheLimitSeesNo429(t *testing.T) {
	r := openAIBurst(burstTPM, burstTPM).run(t)
	r.log(t, "openai burst at the limit")
	assert.Zero(t, r.stats.RateLimited, "the queue kept under the provider's limit")
	assert.EqualValues(t, 200, r.stats.Completed)
	assert.EqualValues(t, 200, r.stats.Requests, "one call per request")
	assert.LessOrEqual(t, r.stats.PeakWindowTokens, int64(burstTPM))
	assert.Zero(t, r.metrics.TotalRateLimit)
	// 200 x 114 tokens at 12600 usable per window need a second window:
	// the budget really was the bottleneck.
	assert.Greater(t, r.wall, burstWindow)
}

// Acceptance: with the queue's limit set 50% above the provider's, and a
// server that gives no x-ratelimit headers until it refuses a call (so the
// queue cannot learn the real limit early), the provider's 429s are retried
// without spending retries until all 200 complete.
func TestProviders_OpenAIBurstOverTheLimitRetriesEvery429(t *testing.T) {
	b := openAIBurst(burstTPM, burstTPM*3/2)
	b.noHeaders = true
	r := b.run(t)
	r.log(t, "openai burst 50% over the limit, no feedback headers")
	assert.Positive(t, r.stats.RateLimited, "the provider did refuse some calls")
	r.assertEvery429Retried(t)
}

// With OpenAI's x-ratelimit-remaining-* headers on every response the
// ledger takes the provider's word for what is left, so a budget set too
// high costs few or no 429s; all 200 complete either way.
func TestProviders_OpenAIBurstOverTheLimitLearnsFromHeaders(t *testing.T) {
	r := openAIBurst(burstTPM, burstTPM*3/2).run(t)
	r.log(t, "openai burst 50% over the limit, with feedback headers")
	r.assertEvery429Retried(t)
}

// The same bursts through the Bedrock adapter and its fake.
func TestProviders_BedrockBurstAtTheLimitSeesNoThrottle(t *testing.T) {
	r := bedrockBurst(burstTPM, burstTPM).run(t)
	r.log(t, "bedrock burst at the limit")
	assert.Zero(t, r.stats.RateLimited)
	assert.EqualValues(t, 200, r.stats.Completed)
	assert.LessOrEqual(t, r.stats.PeakWindowTokens, int64(burstTPM))
}

func TestProviders_BedrockBurstOverTheLimitRetriesEveryThrottle(t *testing.T) {
	r := bedrockBurst(burstTPM, burstTPM*3/2).run(t)
	r.log(t, "bedrock burst 50% over the limit")
	assert.Positive(t, r.stats.RateLimited)
	r.assertEvery429Retried(t)
}

func (r burstResult) log(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: %d requests, %d 429s, wall %s, peak window %d/%d tokens",
		what, r.stats.Requests, r.stats.RateLimited, r.wall.Round(time.Millisecond), r.stats.PeakWindowTokens, burstTPM)
}

func (r burstResult) assertEvery429Retried(t *testing.T) {
	t.Helper()
	assert.EqualValues(t, 200, r.stats.Completed)
	assert.Equal(t, r.stats.Requests, r.stats.Completed+r.stats.RateLimited, "each call either completed or got a 429")
	assert.Equal(t, r.stats.RateLimited, r.metrics.TotalRateLimit, "the queue saw each 429 as a rate limit")
	assert.Zero(t, r.metrics.TotalRetried, "429s spend no retries")
	assert.LessOrEqual(t, r.stats.PeakWindowTokens, int64(burstTPM), "the provider never let the window overflow")
}
