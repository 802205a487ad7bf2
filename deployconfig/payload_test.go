package deployconfig_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/deployconfig"
	"github.com/llmqueue/llmqueue/providers/anthropic"
	"github.com/llmqueue/llmqueue/providers/bedrock"
)

// seen is a Processor that keeps the payload it was given.
type seen struct{ payload json.RawMessage }

func (s *seen) Process(_ context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	s.payload = job.Payload
	return &llmqueue.Result{}, nil
}

const chat = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be terse."},` +
	`{"role":"user","content":[{"type":"text","text":"Hi"}]},{"role":"assistant","content":"Hello"},` +
	`{"role":"user","content":"Summarize."}],"max_tokens":200,"temperature":0.5,"top_p":0.9,"stop":"END","n":1,"seed":7}`

func TestTranslate_RewritesThePayloadForEachProvider(t *testing.T) {
	tests := []struct {
		name, provider, model, in, want string
	}{
		{"openai keeps the body, swaps the model", deployconfig.OpenAI, "gpt-4.1-mini",
			`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"n":2}`,
			`{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"Hi"}],"n":2}`},
		{"chat to bedrock", deployconfig.Bedrock, "anthropic.claude-3-haiku-20240307-v1:0", chat,
			`{"modelId":"anthropic.claude-3-haiku-20240307-v1:0","system":"Be terse.","messages":[{"role":"user","content":"Hi"},` +
				`{"role":"assistant","content":"Hello"},{"role":"user","content":"Summarize."}],"maxTokens":200,` +
				`"temperature":0.5,"topP":0.9,"stopSequences":["END"]}`},
		{"bedrock native swaps modelId", deployconfig.Bedrock, "m2",
			`{"modelId":"m1","messages":[{"role":"user","content":"Hi"}],"maxTokens":5}`,
			`{"modelId":"m2","messages":[{"role":"user","content":"Hi"}],"maxTokens":5}`},
		{"chat to anthropic", deployconfig.Anthropic, "claude-haiku-4-5", chat,
			`{"model":"claude-haiku-4-5","system":"Be terse.","messages":[{"role":"user","content":"Hi"},` +
				`{"role":"assistant","content":"Hello"},{"role":"user","content":"Summarize."}],"max_tokens":200,` +
				`"temperature":0.5,"top_p":0.9,"stop_sequences":["END"]}`},
		{"anthropic takes max_completion_tokens", deployconfig.Anthropic, "c",
			`{"model":"x","messages":[{"role":"user","content":"Hi"}],"max_completion_tokens":50}`,
			`{"model":"c","messages":[{"role":"user","content":"Hi"}],"max_tokens":50}`},
		{"anthropic gets a default cap", deployconfig.Anthropic, "c",
			`{"model":"x","messages":[{"role":"user","content":"Hi"}]}`,
			`{"model":"c","messages":[{"role":"user","content":"Hi"}],"max_tokens":1024}`},
		{"anthropic native keeps its fields", deployconfig.Anthropic, "c",
			`{"model":"x","system":"s","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":9,"top_k":3}`,
			`{"model":"c","system":"s","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":9,"top_k":3}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &seen{}
			_, err := deployconfig.Translate(s, tc.provider, tc.model).Process(context.Background(),
				&llmqueue.Job{Payload: json.RawMessage(tc.in)})
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(s.payload))
		})
	}
}

// What the rewrite makes is what the real adapters accept.
func TestTranslate_TheAdaptersAcceptTheRewrite(t *testing.T) {
	b, err := bedrock.New(context.Background(), bedrock.WithRegion("us-east-1"))
	require.NoError(t, err)
	require.NoError(t, deployconfig.Translate(b, deployconfig.Bedrock, "anthropic.claude-3-haiku-20240307-v1:0").(llmqueue.Validator).Validate(json.RawMessage(chat)))
	a, err := anthropic.New(anthropic.WithAPIKey("k"))
	require.NoError(t, err)
	require.NoError(t, deployconfig.Translate(a, deployconfig.Anthropic, "claude-haiku-4-5").(llmqueue.Validator).Validate(json.RawMessage(chat)))

	u, err := deployconfig.Translate(b, deployconfig.Bedrock, "anthropic.claude-3-haiku-20240307-v1:0").(llmqueue.UsageEstimator).EstimateUsage(json.RawMessage(chat))
	require.NoError(t, err)
	assert.Equal(t, int64(200), u.OutputTokens, "the Bedrock estimate reads the chat request's max_tokens")
}

func TestTranslate_RefusesWhatItCannotRewrite(t *testing.T) {
	tests := []struct{ name, provider, in string }{
		{"not an object", deployconfig.OpenAI, `[1]`},
		{"image part", deployconfig.Bedrock, `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`},
		{"tool role", deployconfig.Bedrock, `{"messages":[{"role":"tool","content":"x"}]}`},
		{"bad stop", deployconfig.Anthropic, `{"messages":[{"role":"user","content":"x"}],"stop":3}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deployconfig.Translate(&seen{}, tc.provider, "m").Process(context.Background(),
				&llmqueue.Job{Payload: json.RawMessage(tc.in)})
			require.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
			var perm *llmqueue.PermanentError
			assert.True(t, errors.As(err, &perm), "a payload that cannot be rewritten is permanent: %v", err)
		})
	}
}
