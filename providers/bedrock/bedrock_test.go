package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers"
	"github.com/llmqueue/llmqueue/providers/bedrock"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// recorder is an HTTP client that keeps the bodies it sent.
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
	paths  []string
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.paths = append(r.paths, req.URL.EscapedPath())
	r.mu.Unlock()
	return http.DefaultClient.Do(req)
}

func TestBedrock_SendsConverseRequest(t *testing.T) {
	rec := &recorder{}
	proc, _ := start(t, providertest.Setup{}, bedrock.WithHTTPClient(rec))
	temp := float32(0.25)
	p, err := json.Marshal(map[string]any{
		"modelId": modelID, "system": "Be terse.",
		"messages": []map[string]any{
			{"role": "user", "content": "plain string"},
			{"role": "assistant", "content": []map[string]any{{"text": "a"}, {"text": "b"}}},
			{"role": "user", "content": "again"},
		},
		"temperature": temp, "stopSequences": []string{"END"},
	})
	require.NoError(t, err)
	res, err := proc.Process(context.Background(), &llmqueue.Job{ID: "x", Payload: p})
	require.NoError(t, err)

	require.Len(t, rec.bodies, 1)
	assert.Equal(t, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", rec.paths[0])
	assert.JSONEq(t, `{
		"messages":[
			{"role":"user","content":[{"text":"plain string"}]},
			{"role":"assistant","content":[{"text":"a"},{"text":"b"}]},
			{"role":"user","content":[{"text":"again"}]}],
		"system":[{"text":"Be terse."}],
		"inferenceConfig":{"maxTokens":1024,"temperature":0.25,"stopSequences":["END"]}
	}`, string(rec.bodies[0]))

	var out bedrock.Output
	require.NoError(t, json.Unmarshal(res.Output, &out))
	assert.Equal(t, "max_tokens", out.StopReason)
	assert.NotEmpty(t, out.Text)
	// 9 + 12 + 2 + 5 characters = 28 -> 7 tokens; output = default max tokens.
	assert.Equal(t, bedrock.OutputUsage{InputTokens: 7, OutputTokens: 1024, TotalTokens: 1031}, out.Usage)
	assert.Equal(t, llmqueue.Usage{InputTokens: 7, OutputTokens: 1024}, res.Usage)
	assert.Nil(t, res.RateLimit)
}

func TestBedrock_OneAttemptPerCall(t *testing.T) {
	proc, srv := start(t, providertest.Setup{})
	for _, f := range []providertest.Fault{
		{Kind: providertest.FaultRateLimit},
		{Kind: providertest.FaultServer},
		{Kind: providertest.FaultUnavailable},
		{Kind: providertest.FaultDisconnect},
	} {
		before := srv.Stats().Requests
		srv.Inject(f)
		_, err := proc.Process(context.Background(), &llmqueue.Job{Payload: payload("hi", 5)})
		require.Error(t, err)
		assert.Equal(t, before+1, srv.Stats().Requests, "%s: the SDK must not retry; the queue owns retries", f.Kind)
	}
}

func TestBedrock_ExceptionTypes(t *testing.T) {
	cases := []struct {
		status int
		code   string
		target any
		kind   error
	}{
		{429, "ThrottlingException", new(*llmqueue.RateLimitedError), providers.ErrRateLimited},
		{400, "ServiceQuotaExceededException", new(*llmqueue.RateLimitedError), providers.ErrRateLimited},
		{403, "AccessDeniedException", new(*llmqueue.PermanentError), providers.ErrAuth},
		{403, "UnrecognizedClientException", new(*llmqueue.PermanentError), providers.ErrAuth},
		{403, "ExpiredTokenException", new(*llmqueue.PermanentError), providers.ErrAuth},
		{400, "ValidationException", new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{404, "ResourceNotFoundException", new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{400, "ConflictException", new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{408, "ModelTimeoutException", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{429, "ModelNotReadyException", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{424, "ModelErrorException", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{503, "ServiceUnavailableException", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{500, "InternalServerException", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{502, "SomethingNewException", new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{429, "TooManyRequestsException", new(*llmqueue.RateLimitedError), providers.ErrRateLimited},
	}
	proc, srv := start(t, providertest.Setup{})
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			srv.Inject(providertest.Fault{Kind: providertest.FaultCustom, Status: c.status, Code: c.code, Message: "detail for " + c.code})
			_, err := proc.Process(context.Background(), &llmqueue.Job{Payload: payload("hi", 5)})
			require.ErrorAs(t, err, c.target)
			assert.ErrorIs(t, err, c.kind)
			assert.Contains(t, err.Error(), "detail for "+c.code)
		})
	}
	t.Run("sdk-type-stays-in-chain", func(t *testing.T) {
		srv.Inject(providertest.Fault{Kind: providertest.FaultRateLimit})
		_, err := proc.Process(context.Background(), &llmqueue.Job{Payload: payload("hi", 5)})
		var throttle *types.ThrottlingException
		assert.ErrorAs(t, err, &throttle)
	})
}

func TestBedrock_SignatureChecked(t *testing.T) {
	srv := providertest.NewBedrockServer(providertest.BedrockOptions{})
	t.Cleanup(srv.Close)
	for name, creds := range map[string]aws.CredentialsProvider{
		"wrong-secret": credentials.NewStaticCredentialsProvider(providertest.TestAccessKeyID, "not-the-secret", ""),
		"unknown-key":  credentials.NewStaticCredentialsProvider("AKIDSOMEONEELSE", providertest.TestSecretAccessKey, ""),
	} {
		proc, err := bedrock.New(context.Background(),
			bedrock.WithConfig(aws.Config{Region: providertest.TestRegion}),
			bedrock.WithCredentials(creds), bedrock.WithEndpoint(srv.URL))
		require.NoError(t, err)
		_, err = proc.Process(context.Background(), &llmqueue.Job{Payload: payload("hi", 5)})
		var perm *llmqueue.PermanentError
		assert.ErrorAs(t, err, &perm, name)
		assert.ErrorIs(t, err, providers.ErrAuth, name)
	}
	assert.Equal(t, int64(2), srv.Stats().Rejected)
	assert.Zero(t, srv.Stats().Completed)
}

func TestBedrock_EstimateUsage(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		want    llmqueue.Usage
	}{
		{"characters / 4 + maxTokens", `{"modelId":"m","system":"abcd","messages":[{"role":"user","content":"abcdefgh"}],"maxTokens":100}`,
			llmqueue.Usage{InputTokens: 3, OutputTokens: 100}}, // 12 characters
		{"rounds up", `{"modelId":"m","system":"abcd","messages":[{"role":"user","content":"abcdefghi"}],"maxTokens":100}`,
			llmqueue.Usage{InputTokens: 4, OutputTokens: 100}}, // 13 characters
		{"every message and block", `{"modelId":"m","messages":[{"role":"user","content":[{"text":"abcd"},{"text":"efgh"}]},{"role":"assistant","content":"ijkl"},{"role":"user","content":"mnop"}],"maxTokens":1}`,
			llmqueue.Usage{InputTokens: 4, OutputTokens: 1}},
		{"code points, not bytes", `{"modelId":"m","messages":[{"role":"user","content":"日本語のテキスト"}],"maxTokens":1}`,
			llmqueue.Usage{InputTokens: 2, OutputTokens: 1}},
		{"no maxTokens: the default that will be sent", `{"modelId":"m","messages":[{"role":"user","content":[{"text":"abcdefgh"}]}]}`,
			llmqueue.Usage{InputTokens: 2, OutputTokens: 500}},
		{"estimatedTokens replaces the character count", `{"modelId":"m","messages":[{"role":"user","content":"x"}],"estimatedTokens":4242,"maxTokens":10}`,
			llmqueue.Usage{InputTokens: 4242, OutputTokens: 10}},
	}
	proc, err := bedrock.New(context.Background(), bedrock.WithClient(stubClient{}), bedrock.WithDefaultMaxTokens(500))
	require.NoError(t, err)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := proc.EstimateUsage(json.RawMessage(c.payload))
			require.NoError(t, err)
			assert.Equal(t, c.want, u)
			n, err := proc.EstimateTokens(json.RawMessage(c.payload))
			require.NoError(t, err)
			assert.Equal(t, c.want.InputTokens+c.want.OutputTokens, n, "EstimateTokens is input + output")
		})
	}

	_, err = proc.EstimateUsage(json.RawMessage(`{"modelId":"m"}`))
	assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
	_, err = proc.EstimateTokens(json.RawMessage(`{"modelId":"m"}`))
	assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
}

// The reservation Bedrock makes is input + the maxTokens it receives; the
// estimate is exact only if the default the estimate assumed is on the wire.
func TestBedrock_DefaultMaxTokensIsSentAndEstimated(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		wire    int
	}{
		{"payload without maxTokens gets the default", `{"modelId":"` + modelID + `","messages":[{"role":"user","content":"abcd"}]}`, 700},
		{"payload's own maxTokens wins", `{"modelId":"` + modelID + `","messages":[{"role":"user","content":"abcd"}],"maxTokens":50}`, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			proc, srv := start(t, providertest.Setup{}, bedrock.WithHTTPClient(rec), bedrock.WithDefaultMaxTokens(700))
			u, err := proc.EstimateUsage(json.RawMessage(c.payload))
			require.NoError(t, err)
			assert.Equal(t, int64(c.wire), u.OutputTokens)

			_, err = proc.Process(context.Background(), &llmqueue.Job{Payload: json.RawMessage(c.payload)})
			require.NoError(t, err)
			require.Len(t, rec.bodies, 1)
			var sent struct {
				InferenceConfig struct {
					MaxTokens int `json:"maxTokens"`
				} `json:"inferenceConfig"`
			}
			require.NoError(t, json.Unmarshal(rec.bodies[0], &sent))
			assert.Equal(t, c.wire, sent.InferenceConfig.MaxTokens)
			est, err := proc.EstimateTokens(json.RawMessage(c.payload))
			require.NoError(t, err)
			assert.Equal(t, est, srv.Stats().TokensCharged, "the fake charged what the queue estimated (Haiku burns 1x and the fake writes maxTokens)")
		})
	}
}

func TestBedrock_MeterFor(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		opts    []bedrock.Option
		rate    float64
	}{
		{"Claude 3 Haiku burns 1x", `{"modelId":"anthropic.claude-3-haiku-20240307-v1:0"}`, nil, 1},
		{"Claude 3.7 Sonnet burns 5x", `{"modelId":"anthropic.claude-3-7-sonnet-20250219-v1:0"}`, nil, 5},
		{"cross-Region Sonnet 4.5 burns 5x", `{"modelId":"us.anthropic.claude-sonnet-4-5-20250929-v1:0","messages":[]}`, nil, 5},
		{"an ARN", `{"modelId":"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-20250514-v1:0"}`, nil, 5},
		{"Nova burns 1x", `{"modelId":"amazon.nova-pro-v1:0"}`, nil, 1},
		{"WithBurndownRates extends the table", `{"modelId":"amazon.nova-premier-v1:0"}`,
			[]bedrock.Option{bedrock.WithBurndownRates(map[string]float64{"amazon.nova-premier": 3})}, 3},
		{"WithBurndownRates overrides the table", `{"modelId":"eu.anthropic.claude-sonnet-4-20250514-v1:0"}`,
			[]bedrock.Option{bedrock.WithBurndownRates(map[string]float64{"anthropic.claude-sonnet-4": 2})}, 2},
		{"an invalid payload still names its model", `{"modelId":"anthropic.claude-haiku-4-5-20251001-v1:0","bogus":1}`, nil, 5},
		{"unreadable: the highest rate", `{`, nil, 5},
		{"no model: the highest rate", `{"messages":[]}`, nil, 5},
		{"unreadable: a higher rate given", `null`,
			[]bedrock.Option{bedrock.WithBurndownRates(map[string]float64{"x.": 8})}, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proc, err := bedrock.New(context.Background(), append([]bedrock.Option{bedrock.WithClient(stubClient{})}, c.opts...)...)
			require.NoError(t, err)
			assert.Equal(t, llmqueue.BedrockMeter{OutputBurndown: c.rate}, proc.MeterFor(json.RawMessage(c.payload)))
		})
	}
}

func TestBedrock_UsageMapsCacheTokens(t *testing.T) {
	cases := []struct {
		name   string
		usage  *types.TokenUsage
		want   llmqueue.Usage
		output string
	}{
		{"no cache", &types.TokenUsage{InputTokens: aws.Int32(3), OutputTokens: aws.Int32(4), TotalTokens: aws.Int32(7)},
			llmqueue.Usage{InputTokens: 3, OutputTokens: 4},
			`{"inputTokens":3,"outputTokens":4,"totalTokens":7}`},
		{"cache write and read", &types.TokenUsage{InputTokens: aws.Int32(12), OutputTokens: aws.Int32(40), TotalTokens: aws.Int32(2052),
			CacheReadInputTokens: aws.Int32(1500), CacheWriteInputTokens: aws.Int32(500)},
			llmqueue.Usage{InputTokens: 12, OutputTokens: 40, CacheReadInputTokens: 1500, CacheCreationInputTokens: 500},
			`{"inputTokens":12,"outputTokens":40,"totalTokens":2052,"cacheReadInputTokens":1500,"cacheWriteInputTokens":500}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proc, err := bedrock.New(context.Background(), bedrock.WithClient(stubClient{usage: c.usage}))
			require.NoError(t, err)
			res, err := proc.Process(context.Background(), &llmqueue.Job{Payload: payload("hi", 5)})
			require.NoError(t, err)
			assert.Equal(t, c.want, res.Usage)
			var out bedrock.Output
			require.NoError(t, json.Unmarshal(res.Output, &out))
			usage, err := json.Marshal(out.Usage)
			require.NoError(t, err)
			assert.JSONEq(t, c.output, string(usage))
		})
	}
	// Bedrock's inputTokens excludes cached input, so the settle formula
	// input + cache writes + output x burndown comes out as AWS documents.
	settled := llmqueue.BedrockMeter{OutputBurndown: 5}.Settle(llmqueue.Charge{}, cases[1].want)
	assert.Equal(t, int64(12+500+40*5), settled.Tokens)
}

// stubClient answers every Converse call with a fixed reply: usage when
// set, else 3 in and 4 out.
type stubClient struct {
	err   error
	usage *types.TokenUsage
}

func (s stubClient) Converse(_ context.Context, _ *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error) {
	var o bedrockruntime.Options
	for _, f := range optFns {
		f(&o)
	}
	if o.RetryMaxAttempts != 1 {
		return nil, errors.New("RetryMaxAttempts is not 1")
	}
	if s.err != nil {
		return nil, s.err
	}
	usage := &types.TokenUsage{InputTokens: aws.Int32(3), OutputTokens: aws.Int32(4), TotalTokens: aws.Int32(7)}
	if s.usage != nil {
		usage = s.usage
	}
	return &bedrockruntime.ConverseOutput{
		Output:     &types.ConverseOutputMemberMessage{Value: types.Message{Role: "assistant", Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}},
		StopReason: types.StopReasonEndTurn,
		Usage:      usage,
	}, nil
}

func TestBedrock_WithClient(t *testing.T) {
	proc, err := bedrock.New(context.Background(), bedrock.WithClient(stubClient{}))
	require.NoError(t, err)
	res, err := proc.Process(context.Background(), &llmqueue.Job{Payload: payload("hi", 5)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"text":"hello","stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":4,"totalTokens":7}}`, string(res.Output))
	assert.Equal(t, llmqueue.Usage{InputTokens: 3, OutputTokens: 4}, res.Usage)

	proc, err = bedrock.New(context.Background(), bedrock.WithClient(stubClient{err: errors.New("credentials: no EC2 role")}))
	require.NoError(t, err)
	_, err = proc.Process(context.Background(), &llmqueue.Job{Payload: payload("hi", 5)})
	var retry *llmqueue.RetryableError
	assert.ErrorAs(t, err, &retry, "an unknown error is retried")
}

func TestBedrock_NewValidatesOptions(t *testing.T) {
	ctx := context.Background()
	_, err := bedrock.New(ctx, bedrock.WithClient(stubClient{}), bedrock.WithRegion("us-east-1"))
	assert.Error(t, err, "a client with client settings")
	_, err = bedrock.New(ctx, bedrock.WithClient(stubClient{}), bedrock.WithTimeout(-1))
	assert.Error(t, err, "negative timeout")
	_, err = bedrock.New(ctx, bedrock.WithClient(stubClient{}), bedrock.WithDefaultMaxTokens(0))
	assert.Error(t, err, "zero default max tokens")
	_, err = bedrock.New(ctx, nil)
	assert.Error(t, err, "nil option")
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		_, err = bedrock.New(ctx, bedrock.WithClient(stubClient{}), bedrock.WithBurndownRates(map[string]float64{"amazon.": bad}))
		assert.Error(t, err, "burndown rate %v", bad)
	}
	_, err = bedrock.New(ctx, bedrock.WithConfig(aws.Config{}))
	assert.ErrorContains(t, err, "region")
}

func TestBedrock_DefaultConfigChain(t *testing.T) {
	srv := providertest.NewBedrockServer(providertest.BedrockOptions{})
	t.Cleanup(srv.Close)
	// Only the environment: no files, no IMDS, no network.
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", providertest.TestRegion)
	t.Setenv("AWS_ACCESS_KEY_ID", providertest.TestAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", providertest.TestSecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", srv.URL)
	proc, err := bedrock.New(context.Background())
	require.NoError(t, err)
	res, err := proc.Process(context.Background(), &llmqueue.Job{Payload: payload("abcd", 5)})
	require.NoError(t, err)
	assert.Equal(t, llmqueue.Usage{InputTokens: 1, OutputTokens: 5}, res.Usage)
}
