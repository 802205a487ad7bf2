package openai_test

import (
	"encoding/json"
	"testing"

	goopenai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/openai"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// payload is a chat-completions request with one user message.
func payload(prompt string, maxTokens int) json.RawMessage {
	b, err := json.Marshal(goopenai.ChatCompletionRequest{
		Model:     "gpt-4o-mini",
		Messages:  []goopenai.ChatCompletionMessage{{Role: goopenai.ChatMessageRoleUser, Content: prompt}},
		MaxTokens: maxTokens,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// start starts a fake OpenAI server and a processor on it.
func start(t *testing.T, s providertest.Setup, opts ...openai.Option) (*openai.Processor, *providertest.OpenAIServer) {
	t.Helper()
	srv := providertest.NewOpenAIServer(providertest.OpenAIOptions{Limits: s.Limits, APIKey: "sk-test"})
	t.Cleanup(srv.Close)
	opts = append([]openai.Option{openai.WithAPIKey("sk-test"), openai.WithBaseURL(srv.BaseURL()), openai.WithTimeout(s.Timeout)}, opts...)
	proc, err := openai.New(opts...)
	require.NoError(t, err)
	return proc, srv
}

func TestOpenAI_Conformance(t *testing.T) {
	providertest.RunConformance(t, providertest.Harness{
		Start: func(t *testing.T, s providertest.Setup) (llmqueue.Processor, providertest.Server) {
			return start(t, s)
		},
		Payload: payload,
		InvalidPayloads: []json.RawMessage{
			json.RawMessage(`{"messages":[{"role":"user","content":"hi"}]}`),
			json.RawMessage(`{"model":"gpt-4o-mini","messages":[]}`),
			json.RawMessage(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}`),
			json.RawMessage(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":-1}`),
			json.RawMessage(`{"model":"gpt-4o-mini","messages":"hi"}`),
		},
		RateLimitHeaders: true,
		QuotaIsPermanent: true,
	})
}
