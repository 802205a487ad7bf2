package tiktoken_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/tiktoken-go/tokenizer"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/tiktoken"
)

// Golden token IDs. Every row is published in OpenAI's cookbook
// (How_to_count_tokens_with_tiktoken.ipynb) or, for the rows marked
// "library", was produced by this tokenizer and checked by hand for the
// property named; a tokenizer upgrade that changes any of them must fail here.
var goldenTokens = []struct {
	encoding tokenizer.Encoding
	text     string
	ids      []uint
	source   string
}{
	{tokenizer.Cl100kBase, "tiktoken is great!", []uint{83, 1609, 5963, 374, 2294, 0}, "cookbook"},
	{tokenizer.Cl100kBase, "antidisestablishmentarianism", []uint{519, 85342, 34500, 479, 8997, 2191}, "cookbook"},
	{tokenizer.Cl100kBase, "2 + 2 = 4", []uint{17, 489, 220, 17, 284, 220, 19}, "cookbook"},
	{tokenizer.Cl100kBase, "お誕生日おめでとう", []uint{33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699}, "cookbook"},
	{tokenizer.Cl100kBase, "hello world", []uint{15339, 1917}, "library: hello + ' world'"},
	{tokenizer.Cl100kBase, "we're", []uint{906, 2351}, "library: we + 're, contraction split by the pre-tokenizer"},
	{tokenizer.O200kBase, "tiktoken is great!", []uint{83, 8251, 2488, 382, 2212, 0}, "cookbook"},
	{tokenizer.O200kBase, "antidisestablishmentarianism", []uint{493, 129901, 376, 160388, 21203, 2367}, "cookbook"},
	{tokenizer.O200kBase, "2 + 2 = 4", []uint{17, 659, 220, 17, 314, 220, 19}, "cookbook"},
	{tokenizer.O200kBase, "お誕生日おめでとう", []uint{8930, 9697, 243, 128225, 8930, 17693, 4344, 48669}, "cookbook"},
	{tokenizer.O200kBase, "hello world", []uint{24912, 2375}, "library: hello + ' world'"},
	{tokenizer.O200kBase, "we're", []uint{854, 4118}, "library: we + 're"},
}

func TestTokenizerGolden(t *testing.T) {
	modelFor := map[tokenizer.Encoding]string{tokenizer.Cl100kBase: "gpt-4", tokenizer.O200kBase: "gpt-4o"}
	for _, g := range goldenTokens {
		t.Run(fmt.Sprintf("%s/%s", g.encoding, g.text), func(t *testing.T) {
			codec, err := tokenizer.Get(g.encoding)
			if err != nil {
				t.Fatal(err)
			}
			ids, _, err := codec.Encode(g.text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, g.ids) {
				t.Errorf("Encode(%q) = %v, want %v (%s)", g.text, ids, g.ids, g.source)
			}
			n, err := tiktoken.CountTokens(modelFor[g.encoding], g.text)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(g.ids) {
				t.Errorf("CountTokens(%q, %q) = %d, want %d", modelFor[g.encoding], g.text, n, len(g.ids))
			}
		})
	}
}

// TestCountTokensModelEncoding tells the encodings apart with a string that
// is 9 tokens in cl100k_base and 8 in o200k_base (cookbook values).
func TestCountTokensModelEncoding(t *testing.T) {
	const text = "お誕生日おめでとう"
	const cl100k, o200k = 9, 8
	tests := []struct {
		model string
		want  int
	}{
		{"gpt-4o", o200k},
		{"gpt-4o-mini-2024-07-18", o200k},
		{"chatgpt-4o-latest", o200k},
		{"gpt-4.1-nano", o200k},
		{"gpt-4.5-preview", o200k},
		{"gpt-5", o200k},
		{"gpt-5-mini", o200k},
		{"o1", o200k},
		{"o1-mini", o200k},
		{"o3-mini", o200k},
		{"o4-mini", o200k},
		{"gpt-oss-120b", o200k},
		{"ft:gpt-4o-mini-2024-07-18:acme::abc123", o200k},
		{"openai/gpt-4o", o200k},
		{"GPT-4o", o200k},
		{"gpt-4", cl100k},
		{"gpt-4-turbo", cl100k},
		{"gpt-4-0613", cl100k},
		{"gpt-3.5-turbo", cl100k},
		{"ft:gpt-3.5-turbo-0125:acme::x", cl100k},
		{"text-embedding-3-small", cl100k},
		{"text-embedding-ada-002", cl100k},
		{"", cl100k},
		{"my-azure-deployment", cl100k},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			got, err := tiktoken.CountTokens(tt.model, text)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("CountTokens(%q) = %d, want %d", tt.model, got, tt.want)
			}
		})
	}
}

func TestCountTokensEdgeCases(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 0},
		// Special-token markers in user text are ordinary text.
		{"<|endoftext|>", 7},
		// Invalid UTF-8 is tokenized as U+FFFD, not rejected.
		{"\xff\xfe", 1},
	}
	for _, tt := range tests {
		got, err := tiktoken.CountTokens("gpt-4", tt.text)
		if err != nil || got != tt.want {
			t.Errorf("CountTokens(%q) = %d, %v; want %d", tt.text, got, err, tt.want)
		}
	}
}

// cookbookMessages is the example conversation of OpenAI's cookbook, for
// which the API itself reported 129 prompt tokens on gpt-4 / gpt-3.5-turbo
// and 124 on gpt-4o / gpt-4o-mini.
const cookbookMessages = `[
  {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
  {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
  {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
  {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
  {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
  {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
]`

func TestEstimator_Cookbook(t *testing.T) {
	tests := []struct {
		model     string
		maxTokens string
		want      int64
	}{
		{"gpt-4", "", 129},
		{"gpt-3.5-turbo", "", 129},
		{"gpt-4o", "", 124},
		{"gpt-4o-mini", "", 124},
		{"gpt-4o", `,"max_tokens":1`, 124 + 1},
		{"gpt-4", `,"max_tokens":500`, 129 + 500},
	}
	for _, tt := range tests {
		t.Run(tt.model+tt.maxTokens, func(t *testing.T) {
			payload := `{"model":"` + tt.model + `","messages":` + cookbookMessages + tt.maxTokens + `}`
			got, err := tiktoken.Estimator{DefaultMaxTokens: -1}.EstimateTokens(json.RawMessage(payload))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("EstimateTokens = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEstimator(t *testing.T) {
	mustCount := func(model, s string) int64 {
		t.Helper()
		n, err := tiktoken.CountTokens(model, s)
		if err != nil {
			t.Fatal(err)
		}
		return int64(n)
	}
	tools := `[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
	toolCalls := `[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]`
	tests := []struct {
		name    string
		est     tiktoken.Estimator
		payload string
		want    int64
	}{
		// 3 per message + role + content, + 3 priming + max_tokens:
		// "user" and "hello world" are 1 and 2 tokens in both encodings.
		{"one message", tiktoken.Estimator{DefaultMaxTokens: -1},
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}],"max_tokens":50}`, 3 + 1 + 2 + 3 + 50},
		{"max_completion_tokens", tiktoken.Estimator{DefaultMaxTokens: -1},
			`{"model":"o3-mini","messages":[{"role":"user","content":"hello world"}],"max_completion_tokens":1000}`, 9 + 1000},
		{"n choices", tiktoken.Estimator{DefaultMaxTokens: -1},
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}],"max_tokens":50,"n":2}`, 9 + 100},
		{"negative max tokens", tiktoken.Estimator{DefaultMaxTokens: 4096},
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}],"max_tokens":-1}`, 9},
		{"default max tokens", tiktoken.Estimator{DefaultMaxTokens: 4096},
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]}`, 9 + 4096},
		{"name adds one", tiktoken.Estimator{DefaultMaxTokens: -1},
			`{"model":"gpt-4","messages":[{"role":"user","name":"example_user","content":"hello world"}]}`,
			3 + 1 + 2 + mustCount("gpt-4", "example_user") + 1 + 3},
		{"content parts", tiktoken.Estimator{DefaultMaxTokens: -1},
			`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"hello world"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}},{"type":"text","text":"tiktoken is great!"}]}]}`,
			3 + 1 + 2 + 6 + 3},
		{"empty messages", tiktoken.Estimator{DefaultMaxTokens: -1}, `{"model":"gpt-4o","messages":[]}`, 3},
		{"tools as json", tiktoken.Estimator{DefaultMaxTokens: -1},
			`{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}],"tools":` + tools + `}`,
			9 + mustCount("gpt-4o", tools)},
		{"tool call and tool result", tiktoken.Estimator{DefaultMaxTokens: -1},
			`{"model":"gpt-4o","messages":[{"role":"assistant","content":null,"tool_calls":` + toolCalls + `},{"role":"tool","tool_call_id":"call_1","content":"sunny"}]}`,
			3 + mustCount("gpt-4o", "assistant") + mustCount("gpt-4o", toolCalls) +
				3 + mustCount("gpt-4o", "tool") + mustCount("gpt-4o", "call_1") + mustCount("gpt-4o", "sunny") + 3},
		{"indentation does not count", tiktoken.Estimator{DefaultMaxTokens: -1},
			"{\n  \"model\": \"gpt-4o\",\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"hello world\"}\n  ]\n}", 9},
		{"default model", tiktoken.Estimator{DefaultModel: "gpt-4o", DefaultMaxTokens: -1},
			`{"messages":[{"role":"user","content":"お誕生日おめでとう"}]}`, 3 + 1 + 8 + 3},
		{"unknown model is cl100k", tiktoken.Estimator{DefaultModel: "gpt-4o", DefaultMaxTokens: -1},
			`{"model":"claude-3","messages":[{"role":"user","content":"お誕生日おめでとう"}]}`, 3 + 1 + 9 + 3},
		{"prompt string", tiktoken.Estimator{DefaultMaxTokens: -1}, `{"model":"gpt-3.5-turbo-instruct","prompt":"tiktoken is great!","max_tokens":7}`, 6 + 7},
		{"embedding input array", tiktoken.Estimator{DefaultMaxTokens: -1}, `{"model":"text-embedding-3-small","input":["hello world","tiktoken is great!"]}`, 2 + 6},
		{"other object counts its json", tiktoken.Estimator{DefaultMaxTokens: -1}, `{"foo":"bar"}`, mustCount("", `{"foo":"bar"}`)},
		{"non-object counts its json", tiktoken.Estimator{DefaultMaxTokens: -1}, `"hello world"`, mustCount("", `"hello world"`)},
		{"huge max tokens saturates", tiktoken.Estimator{DefaultMaxTokens: -1},
			`{"messages":[{"role":"user","content":"hello world"}],"max_tokens":1e400}`, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.est.EstimateTokens(json.RawMessage(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("EstimateTokens = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEstimator_InvalidMessages(t *testing.T) {
	for _, p := range []string{
		`{"messages":null}`,
		`{"messages":"hello"}`,
		`{"messages":{"role":"user"}}`,
		`{"messages":[1]}`,
		`{"messages":[{"role":"user","content":"hi"},"oops"]}`,
	} {
		got, err := tiktoken.NewEstimator().EstimateTokens(json.RawMessage(p))
		if !errors.Is(err, llmqueue.ErrInvalidPayload) {
			t.Errorf("EstimateTokens(%s) = %d, %v; want ErrInvalidPayload", p, got, err)
		}
	}
}

// TestEstimator_Concurrent is meant for -race: the shared codecs are
// loaded lazily by whichever goroutine gets there first.
func TestEstimator_Concurrent(t *testing.T) {
	payloads := map[string]int64{
		`{"model":"gpt-4o","messages":` + cookbookMessages + `}`: 124,
		`{"model":"gpt-4","messages":` + cookbookMessages + `}`:  129,
	}
	var wg sync.WaitGroup
	for range 8 {
		for p, want := range payloads {
			wg.Go(func() {
				got, err := tiktoken.Estimator{DefaultMaxTokens: -1}.EstimateTokens(json.RawMessage(p))
				if err != nil || got != want {
					t.Errorf("EstimateTokens = %d, %v; want %d", got, err, want)
				}
			})
		}
	}
	wg.Wait()
}

func BenchmarkEstimator(b *testing.B) {
	payload := json.RawMessage(`{"model":"gpt-4o","max_tokens":256,"messages":` + cookbookMessages + `}`)
	est := tiktoken.NewEstimator()
	if _, err := est.EstimateTokens(payload); err != nil { // load the vocabulary outside the timer
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := est.EstimateTokens(payload); err != nil {
			b.Fatal(err)
		}
	}
}
