package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
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

func TestBedrock_EstimateTokens(t *testing.T) {
	proc, err := bedrock.New(context.Background(), bedrock.WithClient(stubClient{}), bedrock.WithDefaultMaxTokens(500))
	require.NoError(t, err)

	n, err := proc.EstimateTokens(json.RawMessage(`{"modelId":"m","system":"abcd","messages":[{"role":"user","content":"abcdefgh"}],"maxTokens":100}`))
	require.NoError(t, err)
	assert.Equal(t, int64(3+100), n, "12 characters / 4 + maxTokens")

	n, err = proc.EstimateTokens(json.RawMessage(`{"modelId":"m","messages":[{"role":"user","content":[{"text":"abcdefgh"}]}]}`))
	require.NoError(t, err)
	assert.Equal(t, int64(2+500), n, "the default max tokens is what will be sent")

	n, err = proc.EstimateTokens(json.RawMessage(`{"modelId":"m","messages":[{"role":"user","content":"x"}],"estimatedTokens":4242}`))
	require.NoError(t, err)
	assert.Equal(t, int64(4242), n, "an explicit count wins")

	_, err = proc.EstimateTokens(json.RawMessage(`{"modelId":"m"}`))
	assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
}

// stubClient answers every Converse call with a fixed reply.
type stubClient struct{ err error }

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
	return &bedrockruntime.ConverseOutput{
		Output:     &types.ConverseOutputMemberMessage{Value: types.Message{Role: "assistant", Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hello"}}}},
		StopReason: types.StopReasonEndTurn,
		Usage:      &types.TokenUsage{InputTokens: aws.Int32(3), OutputTokens: aws.Int32(4), TotalTokens: aws.Int32(7)},
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
