package llmqueue_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/tiktoken"
)

// noAllowance counts the prompt only when a payload sets no output limit,
// so the golden counts below are the prompt's.
var noAllowance = llmqueue.HeuristicEstimator{DefaultMaxTokens: -1}

// A payload that sets no output limit is estimated with
// DefaultOutputAllowance, never 0: the provider charges an output allowance
// at arrival.
func TestEstimators_DefaultOutputAllowance(t *testing.T) {
	tests := []struct {
		name string
		est  llmqueue.UsageEstimator
		want llmqueue.Usage
	}{
		{"heuristic zero value", llmqueue.HeuristicEstimator{}, llmqueue.Usage{InputTokens: 1, OutputTokens: llmqueue.DefaultOutputAllowance}},
		{"heuristic custom", llmqueue.HeuristicEstimator{DefaultMaxTokens: 300}, llmqueue.Usage{InputTokens: 1, OutputTokens: 300}},
		{"heuristic none", llmqueue.HeuristicEstimator{DefaultMaxTokens: -1}, llmqueue.Usage{InputTokens: 1}},
		{"tiktoken zero value", tiktoken.Estimator{}, llmqueue.Usage{InputTokens: 1, OutputTokens: llmqueue.DefaultOutputAllowance}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.est.EstimateUsage(json.RawMessage(`{"prompt":"hi"}`))
			if err != nil || got != tt.want {
				t.Errorf("EstimateUsage = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestHeuristicEstimator(t *testing.T) {
	big := strings.Repeat("a", 1<<20)
	tests := []struct {
		name    string
		est     llmqueue.HeuristicEstimator
		payload string
		want    int64
	}{
		// Recognised shapes: ceil(chars/4) + output budget.
		{"openai string content", noAllowance,
			`{"model":"gpt-4o","messages":[{"role":"system","content":"abcd"},{"role":"user","content":"abcdefgh"}],"max_tokens":10}`, 3 + 10},
		{"openai content parts skip images", noAllowance,
			`{"messages":[{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAAAAAAAAAAAAAAAAAAAAAA"}},{"type":"text","text":"e"}]}]}`, 2},
		{"openai max_completion_tokens", noAllowance,
			`{"messages":[{"role":"user","content":"abcd"}],"max_completion_tokens":7}`, 1 + 7},
		{"null content of tool-call message", noAllowance,
			`{"messages":[{"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","content":"abcd"}]}`, 1},
		{"bedrock converse", noAllowance,
			`{"system":[{"text":"abcd"}],"messages":[{"role":"user","content":[{"text":"abcdefgh"}]}],"inferenceConfig":{"maxTokens":100}}`, 3 + 100},
		{"anthropic string system", noAllowance,
			`{"system":"abcdef","messages":[{"role":"user","content":"ab"}],"max_tokens":5}`, 2 + 5},
		{"prompt", noAllowance, `{"prompt":"abcde"}`, 2},
		{"prompt array", noAllowance, `{"prompt":["abcd","abcd"]}`, 2},
		{"input string", noAllowance, `{"input":"abcdefghi","max_output_tokens":1}`, 3 + 1},
		{"responses input messages", noAllowance,
			`{"instructions":"abcd","input":[{"role":"user","content":[{"type":"input_text","text":"abcd"}]}]}`, 2},
		{"empty messages", llmqueue.HeuristicEstimator{DefaultMaxTokens: 9}, `{"messages":[]}`, 9},
		{"escapes are decoded", noAllowance, `{"prompt":"\u00e9\u00e9\u00e9\u00e9"}`, 1},
		{"code points not bytes", noAllowance, `{"prompt":"お誕生日"}`, 1},
		{"huge content", noAllowance, `{"prompt":"` + big + `"}`, 1 << 18},

		// Output budget edge cases.
		{"default max tokens", llmqueue.HeuristicEstimator{DefaultMaxTokens: 256}, `{"prompt":"abcd"}`, 1 + 256},
		{"explicit max tokens beats default", llmqueue.HeuristicEstimator{DefaultMaxTokens: 256}, `{"prompt":"abcd","max_tokens":3}`, 1 + 3},
		{"null max tokens means default", llmqueue.HeuristicEstimator{DefaultMaxTokens: 256}, `{"prompt":"abcd","max_tokens":null}`, 1 + 256},
		{"string max tokens ignored", llmqueue.HeuristicEstimator{DefaultMaxTokens: 256}, `{"prompt":"abcd","max_tokens":"9"}`, 1 + 256},
		{"negative default", llmqueue.HeuristicEstimator{DefaultMaxTokens: -5}, `{"prompt":"abcd"}`, 1},
		{"negative max tokens", llmqueue.HeuristicEstimator{DefaultMaxTokens: 256}, `{"prompt":"abcd","max_tokens":-50}`, 1},
		{"fractional max tokens rounds up", noAllowance, `{"prompt":"abcd","max_tokens":10.2}`, 1 + 11},
		{"largest of both fields", noAllowance, `{"prompt":"abcd","max_tokens":5,"max_completion_tokens":50}`, 1 + 50},
		{"n multiplies budget", noAllowance, `{"prompt":"abcd","max_tokens":10,"n":3}`, 1 + 30},
		{"n zero ignored", noAllowance, `{"prompt":"abcd","max_tokens":10,"n":0}`, 1 + 10},
		{"huge max tokens saturates", noAllowance, `{"prompt":"abcd","max_tokens":1e30}`, math.MaxInt64},
		{"overflowing max tokens saturates", noAllowance, `{"prompt":"abcd","max_tokens":1e400}`, math.MaxInt64},
		{"max int64 plus prompt saturates", noAllowance, `{"prompt":"abcd","max_tokens":9223372036854775807}`, math.MaxInt64},
		{"huge n saturates", noAllowance, `{"prompt":"abcd","max_tokens":10,"n":1e18}`, math.MaxInt64},

		// CharsPerToken.
		{"chars per token 2", llmqueue.HeuristicEstimator{DefaultMaxTokens: -1, CharsPerToken: 2}, `{"prompt":"abcde"}`, 3},
		{"chars per token negative means 4", llmqueue.HeuristicEstimator{DefaultMaxTokens: -1, CharsPerToken: -1}, `{"prompt":"abcde"}`, 2},
		{"chars per token NaN means 4", llmqueue.HeuristicEstimator{DefaultMaxTokens: -1, CharsPerToken: math.NaN()}, `{"prompt":"abcde"}`, 2},
		{"chars per token +Inf means 4", llmqueue.HeuristicEstimator{DefaultMaxTokens: -1, CharsPerToken: math.Inf(1)}, `{"prompt":"abcde"}`, 2},
		{"tiny chars per token saturates", llmqueue.HeuristicEstimator{DefaultMaxTokens: -1, CharsPerToken: 1e-300}, `{"prompt":"abcde"}`, math.MaxInt64},

		// Fallback: ceil(len(payload)/4), no budget.
		{"array", llmqueue.HeuristicEstimator{DefaultMaxTokens: 99}, `[1,2,3]`, 2 + 99},
		{"bare string", noAllowance, `"abcdefgh"`, 3},
		{"number", noAllowance, `7`, 1},
		{"null", noAllowance, `null`, 1},
		{"unknown object", noAllowance, `{"foo":"barbazqux"}`, 5},
		{"messages not an array", noAllowance, `{"messages":"abcd"}`, 5},
		{"messages of non-objects", noAllowance, `{"messages":[1,2]}`, 5},
		{"system null", noAllowance, `{"system":null}`, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.est.EstimateTokens(json.RawMessage(tt.payload))
			if err != nil {
				t.Fatalf("EstimateTokens: %v", err)
			}
			if got != tt.want {
				t.Errorf("EstimateTokens = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEstimatorsRejectInvalidJSON(t *testing.T) {
	estimators := map[string]llmqueue.Estimator{
		"heuristic": llmqueue.HeuristicEstimator{},
		"tiktoken":  tiktoken.NewEstimator(),
	}
	payloads := []string{"", " ", "{", "garbage", `{"a":1} trailing`, `{"messages":[}`, "\xff\xfe", `{"a":1,}`}
	for name, est := range estimators {
		for _, p := range payloads {
			t.Run(fmt.Sprintf("%s/%q", name, p), func(t *testing.T) {
				got, err := est.EstimateTokens(json.RawMessage(p))
				if !errors.Is(err, llmqueue.ErrInvalidPayload) {
					t.Fatalf("EstimateTokens = %d, %v; want ErrInvalidPayload", got, err)
				}
			})
		}
	}
}

func FuzzHeuristicEstimator(f *testing.F) {
	seeds := []string{
		``, `{}`, `[]`, `null`, `"x"`, `garbage`,
		`{"messages":[{"role":"user","content":"hello"}],"max_tokens":10}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url"}]}]}`,
		`{"system":[{"text":"s"}],"messages":[{"content":[{"text":"t"}]}],"inferenceConfig":{"maxTokens":5}}`,
		`{"prompt":"p","max_tokens":-1,"n":-3}`,
		`{"input":[{"role":"user","content":"x"}],"max_output_tokens":1e400}`,
		`{"prompt":"abc","max_completion_tokens":9223372036854775807,"n":9223372036854775807}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), 0.0, int64(0))
	}
	f.Add([]byte(`{"prompt":"abc"}`), -1.0, int64(-1))
	f.Add([]byte(`{"prompt":"abc"}`), 1e-300, int64(math.MaxInt64))
	f.Add([]byte(`{"prompt":"abc"}`), math.Inf(1), int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, payload []byte, charsPerToken float64, defaultMax int64) {
		est := llmqueue.HeuristicEstimator{CharsPerToken: charsPerToken, DefaultMaxTokens: defaultMax}
		got, err := est.EstimateTokens(payload)
		if valid := json.Valid(payload); valid != (err == nil) {
			t.Fatalf("json.Valid = %v but err = %v", valid, err)
		}
		if err != nil {
			if !errors.Is(err, llmqueue.ErrInvalidPayload) {
				t.Fatalf("error %v does not wrap ErrInvalidPayload", err)
			}
			return
		}
		if got < 0 {
			t.Fatalf("EstimateTokens = %d, want >= 0", got)
		}
	})
}

// benchMessages is the example conversation of OpenAI's cookbook, which
// package tiktoken's tests count exactly.
const benchMessages = `[
  {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
  {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
  {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
  {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
  {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
  {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
]`

func BenchmarkHeuristicEstimator(b *testing.B) {
	payload := json.RawMessage(`{"model":"gpt-4o","max_tokens":256,"messages":` + benchMessages + `}`)
	var est llmqueue.HeuristicEstimator
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := est.EstimateTokens(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleHeuristicEstimator() {
	est := llmqueue.HeuristicEstimator{DefaultMaxTokens: 1024}
	payload := json.RawMessage(`{
		"system": [{"text": "You are terse."}],
		"messages": [{"role": "user", "content": [{"text": "Name three primes."}]}],
		"inferenceConfig": {"maxTokens": 64}
	}`)
	n, err := est.EstimateTokens(payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	// 14 + 18 characters is 8 tokens at 4 characters a token, plus 64.
	fmt.Println(n)
	// Output: 72
}
