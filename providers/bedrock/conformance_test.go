package bedrock_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/bedrock"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

const modelID = "anthropic.claude-3-haiku-20240307-v1:0"

// payload is a Converse payload with one user message.
func payload(prompt string, maxTokens int) json.RawMessage {
	b, err := json.Marshal(bedrock.Payload{
		ModelID:   modelID,
		Messages:  []bedrock.Message{{Role: "user", Content: bedrock.Content{{Text: prompt}}}},
		MaxTokens: int32(maxTokens),
	})
	if err != nil {
		panic(err)
	}
	return b
}

// start starts a fake Bedrock server and a processor on it, configured
// explicitly so the test ignores the machine's AWS settings.
func start(t *testing.T, s providertest.Setup, opts ...bedrock.Option) (*bedrock.Processor, *providertest.BedrockServer) {
	t.Helper()
	srv := providertest.NewBedrockServer(providertest.BedrockOptions{Limits: s.Limits})
	t.Cleanup(srv.Close)
	opts = append([]bedrock.Option{
		bedrock.WithConfig(aws.Config{Region: providertest.TestRegion, Credentials: srv.Credentials()}),
		bedrock.WithEndpoint(srv.URL),
		bedrock.WithTimeout(s.Timeout),
	}, opts...)
	proc, err := bedrock.New(context.Background(), opts...)
	require.NoError(t, err)
	return proc, srv
}

func TestBedrock_Conformance(t *testing.T) {
	providertest.RunConformance(t, providertest.Harness{
		Start: func(t *testing.T, s providertest.Setup) (llmqueue.Processor, providertest.Server) {
			return start(t, s)
		},
		Payload: payload,
		InvalidPayloads: []json.RawMessage{
			json.RawMessage(`{"messages":[{"role":"user","content":"hi"}]}`),
			json.RawMessage(`{"modelId":"m","messages":[]}`),
			json.RawMessage(`{"modelId":"m","messages":[{"role":"system","content":"hi"}]}`),
			json.RawMessage(`{"modelId":"m","messages":[{"role":"user","content":[]}]}`),
			json.RawMessage(`{"modelId":"m","messages":[{"role":"user","content":[{"image":{}}]}]}`),
			json.RawMessage(`{"modelId":"m","messages":[{"role":"user","content":"hi"}],"maxTokens":-1}`),
			json.RawMessage(`{"modelId":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`),
			json.RawMessage(`{"modelId":"m","messages":[{"role":"user","content":"hi"}]} {}`),
		},
		RateLimitHeaders: false,
		QuotaIsPermanent: false,
	})
}
