package llmqueue_test

import (
	"encoding/json"
	"testing"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/tiktoken"
)

// Every provider charges the output allowance once, at arrival: the
// estimators reserve max_tokens (x n for OpenAI) as it is, never scaled
// by a per-model multiplier as the Python package did, and read every
// provider's spelling of it.
func TestEstimators_OutputAllowanceIsTheMaximumOnce(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		output  int64
	}{
		{"openai max_tokens", `{"model":"gpt-4","messages":[{"role":"user","content":"hi"}],"max_tokens":700}`, 700},
		{"openai max_completion_tokens", `{"model":"o3","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":4000}`, 4000},
		{"openai n choices", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":700,"n":3}`, 2100},
		{"openai responses", `{"model":"gpt-4.1","input":"hi","max_output_tokens":900}`, 900},
		{"anthropic", `{"model":"claude-3-opus-20240229","messages":[{"role":"user","content":"hi"}],"max_tokens":1500}`, 1500},
		{"bedrock converse", `{"modelId":"anthropic.claude-3-haiku-20240307-v1:0","messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":2048}}`, 2048},
		// providers/bedrock's Payload: it was read as no maximum (1,024)
		// and under-reserved every longer reply.
		{"providers/bedrock payload", `{"modelId":"anthropic.claude-3-haiku-20240307-v1:0","messages":[{"role":"user","content":"hi"}],"maxTokens":4000}`, 4000},
		{"bedrock payload, small maximum", `{"modelId":"m","messages":[{"role":"user","content":"hi"}],"maxTokens":100}`, 100},
		{"none set", `{"messages":[{"role":"user","content":"hi"}]}`, llmqueue.DefaultOutputAllowance},
	}
	estimators := map[string]llmqueue.UsageEstimator{
		"heuristic": llmqueue.HeuristicEstimator{},
		"tiktoken":  tiktoken.NewEstimator(),
	}
	for _, tt := range tests {
		for name, est := range estimators {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				u, err := est.EstimateUsage(json.RawMessage(tt.payload))
				if err != nil || u.OutputTokens != tt.output {
					t.Errorf("EstimateUsage = %+v, %v; want output %d", u, err, tt.output)
				}
			})
		}
	}
}
