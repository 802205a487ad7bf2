package anthropic_test

import (
	"encoding/json"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/anthropic"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

const model = sdk.ModelClaudeHaiku4_5

// testKey is the key the fake servers of these tests accept.
const testKey = "sk-ant-test"

// payload is a Messages API request with one user message, built with the
// SDK's own types as a caller would.
func payload(prompt string, maxTokens int) json.RawMessage {
	b, err := json.Marshal(sdk.MessageNewParams{
		Model:     model,
		MaxTokens: int64(maxTokens),
		Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock(prompt))},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// start starts a fake Anthropic server and a processor on it.
func start(t *testing.T, s providertest.Setup, opts ...anthropic.Option) (*anthropic.Processor, *providertest.AnthropicServer) {
	t.Helper()
	srv := providertest.NewAnthropicServer(providertest.AnthropicOptions{Limits: s.Limits, APIKey: testKey})
	t.Cleanup(srv.Close)
	opts = append([]anthropic.Option{anthropic.WithAPIKey(testKey), anthropic.WithBaseURL(srv.BaseURL()), anthropic.WithTimeout(s.Timeout)}, opts...)
	proc, err := anthropic.New(opts...)
	require.NoError(t, err)
	return proc, srv
}

func TestAnthropic_Conformance(t *testing.T) {
	providertest.RunConformance(t, providertest.Harness{
		Start: func(t *testing.T, s providertest.Setup) (llmqueue.Processor, providertest.Server) {
			return start(t, s)
		},
		Payload: payload,
		InvalidPayloads: []json.RawMessage{
			json.RawMessage(`{"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`),
			json.RawMessage(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`),
			json.RawMessage(`{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`),
			json.RawMessage(`{"model":"m","max_tokens":10,"messages":[]}`),
			json.RawMessage(`{"model":"m","max_tokens":10,"messages":"hi"}`),
			json.RawMessage(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"stream":true}`),
			json.RawMessage(`{"model":"m","max_tokens":100000,"messages":[{"role":"user","content":"hi"}]}`),
		},
		AnthropicHeaders: true,
		QuotaIsPermanent: true,
	})
}
