package anthropic_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers"
	"github.com/llmqueue/llmqueue/providers/anthropic"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

func TestAnthropic_ProcessReportsUsageCacheAndLimits(t *testing.T) {
	srv := providertest.NewAnthropicServer(providertest.AnthropicOptions{
		Limits:            providertest.Limits{RPM: 50, ITPM: 10000, OTPM: 2000},
		APIKey:            testKey,
		OutputFraction:    0.5,
		CacheReadFraction: 0.4,
	})
	t.Cleanup(srv.Close)
	proc, err := anthropic.New(anthropic.WithAPIKey(testKey), anthropic.WithBaseURL(srv.BaseURL()))
	require.NoError(t, err)

	start := time.Now()
	res, err := proc.Process(context.Background(), &llmqueue.Job{ID: "t", Payload: payload(strings.Repeat("abcd", 100), 100), Attempt: 1})
	require.NoError(t, err)
	// 400 characters are 100 tokens on the fake, 40 of them cache reads;
	// the reply uses half of max_tokens.
	assert.Equal(t, llmqueue.Usage{InputTokens: 60, OutputTokens: 50, CacheReadInputTokens: 40}, res.Usage)

	var msg sdk.Message
	require.NoError(t, json.Unmarshal(res.Output, &msg))
	assert.Equal(t, "end_turn", string(msg.StopReason))
	require.NotEmpty(t, msg.Content)
	assert.Contains(t, msg.Content[0].Text, "ok")

	require.NotNil(t, res.RateLimit)
	rl := *res.RateLimit
	assert.Equal(t, int64(50), rl.LimitRequests)
	assert.Equal(t, int64(49), rl.RemainingRequests)
	assert.Equal(t, int64(10000), rl.LimitInputTokens)
	assert.Equal(t, int64(10000-60), rl.RemainingInputTokens)
	assert.Equal(t, int64(2000), rl.LimitOutputTokens)
	assert.Equal(t, int64(2000-50), rl.RemainingOutputTokens, "OTPM settled to the real output")
	for _, d := range []time.Duration{rl.ResetRequests, rl.ResetInputTokens, rl.ResetOutputTokens} {
		assert.Positive(t, d)
		assert.LessOrEqual(t, d, time.Minute+time.Second+time.Since(start))
	}
}

func TestAnthropic_SendsPayloadVerbatim(t *testing.T) {
	// A field and a content block type this SDK version does not know: its
	// decoder would drop the field and empty the whole content array.
	p := json.RawMessage(`{"model":"claude-haiku-4-5","max_tokens":64,"future_field":{"on":true},` +
		`"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"hologram","data":"x"}]}]}`)
	body := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5",` +
		`"content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","stop_sequence":null,` +
		`"usage":{"input_tokens":12,"output_tokens":3,"cache_creation_input_tokens":7,"cache_read_input_tokens":0},"future_reply_field":1}`
	srv := newRawServer(t, reply{200, http.Header{"Anthropic-Ratelimit-Requests-Remaining": {"3"}}, body})
	res, err := process(t, srv.Server, p)
	require.NoError(t, err)
	assert.JSONEq(t, string(p), string(*srv.lastBody.Load()), "the payload is sent as it came")
	assert.JSONEq(t, body, string(res.Output), "the output is the message as the API returned it")
	assert.Equal(t, llmqueue.Usage{InputTokens: 12, OutputTokens: 3, CacheCreationInputTokens: 7}, res.Usage)
	require.NotNil(t, res.RateLimit)
	assert.Equal(t, int64(3), res.RateLimit.RemainingRequests)
	assert.Equal(t, int64(-1), res.RateLimit.RemainingTokens, "not said: unknown")
	assert.Zero(t, res.RateLimit.LimitTokens)

	h := *srv.lastHeader.Load()
	assert.Equal(t, "Bearer "+testKey, h.Get("Authorization"), "anthropic-sdk-go v2 sends the key as a bearer token")
	assert.NotEmpty(t, h.Get("Anthropic-Version"))
	assert.Equal(t, "0", h.Get("X-Stainless-Retry-Count"))
}

func TestAnthropic_NoRateLimitHeadersNoInfo(t *testing.T) {
	body := `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":"end_turn",` +
		`"usage":{"input_tokens":1,"output_tokens":1}}`
	srv := newRawServer(t, reply{200, nil, body})
	res, err := process(t, srv.Server, payload("hi", 5))
	require.NoError(t, err)
	assert.Nil(t, res.RateLimit)
}

func TestAnthropic_KeyNeverInErrors(t *testing.T) {
	srv := providertest.NewAnthropicServer(providertest.AnthropicOptions{APIKey: "sk-ant-right"})
	t.Cleanup(srv.Close)
	proc, err := anthropic.New(anthropic.WithAPIKey("sk-ant-wrong-and-secret"), anthropic.WithBaseURL(srv.BaseURL()))
	require.NoError(t, err)
	_, err = proc.Process(context.Background(), &llmqueue.Job{ID: "t", Payload: payload("hi", 5), Attempt: 1})
	var perm *llmqueue.PermanentError
	require.ErrorAs(t, err, &perm)
	assert.ErrorIs(t, err, providers.ErrAuth)
	assert.NotContains(t, err.Error(), "sk-ant-wrong-and-secret")
	assert.NotContains(t, err.Error(), "secret")
}

func TestAnthropic_NilJobIsPermanent(t *testing.T) {
	proc, err := anthropic.New(anthropic.WithAPIKey(testKey))
	require.NoError(t, err)
	_, err = proc.Process(context.Background(), nil)
	var perm *llmqueue.PermanentError
	require.ErrorAs(t, err, &perm)
	assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
}

func TestAnthropic_NewValidatesOptions(t *testing.T) {
	cases := []struct {
		name string
		opts []anthropic.Option
		ok   bool
	}{
		{"defaults", nil, true},
		{"all", []anthropic.Option{anthropic.WithAPIKey("k"), anthropic.WithBaseURL("https://gateway.example/anthropic"),
			anthropic.WithHTTPClient(&http.Client{}), anthropic.WithTimeout(time.Minute), anthropic.WithTokenCounting()}, true},
		{"custom-estimator", []anthropic.Option{anthropic.WithEstimator(llmqueue.HeuristicEstimator{})}, true},
		{"nil-option", []anthropic.Option{nil}, false},
		{"negative-timeout", []anthropic.Option{anthropic.WithTimeout(-time.Second)}, false},
		{"empty-key", []anthropic.Option{anthropic.WithAPIKey("")}, false},
		{"relative-url", []anthropic.Option{anthropic.WithBaseURL("api.anthropic.com")}, false},
		{"bad-scheme", []anthropic.Option{anthropic.WithBaseURL("ftp://api.anthropic.com")}, false},
		{"estimator-and-counting", []anthropic.Option{anthropic.WithEstimator(llmqueue.HeuristicEstimator{}), anthropic.WithTokenCounting()}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := anthropic.New(c.opts...)
			if c.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestAnthropic_MeterIsAnthropic(t *testing.T) {
	proc, err := anthropic.New()
	require.NoError(t, err)
	assert.Equal(t, llmqueue.AnthropicMeter{}, proc.MeterFor(payload("hi", 5)))
	assert.Equal(t, llmqueue.AnthropicMeter{}, proc.MeterFor(json.RawMessage(`not json`)), "MeterFor never fails")
}
