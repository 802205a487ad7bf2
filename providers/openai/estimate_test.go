package openai

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
)

// The token counts below are o200k_base's (gpt-4o-mini): "system", "user",
// "assistant", "tool", "bob" are 1 token each, "You are terse." 4,
// "Say hi." 3, "hello world" 2, "Weather in Paris?" 4, "call_1" 3,
// `{"temp":21}` 5, the tool call's JSON 29, " internationalization" x 20 40,
// and "=" x 400 only 6.
func TestEstimateUsage_CookbookOrCharactersWhicheverIsLarger(t *testing.T) {
	toolCall := `[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]`
	cases := []struct {
		name     string
		payload  string
		opts     []Option
		cookbook int64 // 4 per message + string fields (-1 for a name) + 2
		chars    int64 // ceil(content characters / 4)
		output   int64
	}{
		{
			name:     "short English: cookbook wins",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hi."}],"max_tokens":50}`,
			cookbook: 2 + (4 + 1 + 4) + (4 + 1 + 3), // 19
			chars:    (14 + 7 + 3) / 4,              // 21 characters -> 6
			output:   50,
		},
		{
			name:     "long words: characters win",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat(" internationalization", 20) + `"}],"max_tokens":100}`,
			cookbook: 2 + 4 + 1 + 40, // 47
			chars:    420 / 4,        // 105
			output:   100,
		},
		{
			name:     "a run of one character: characters win by far",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("=", 400) + `"}],"max_tokens":10}`,
			cookbook: 2 + 4 + 1 + 6, // 13
			chars:    100,
			output:   10,
		},
		{
			name:     "a name costs its tokens minus one",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"user","name":"bob","content":"hello world"}],"max_tokens":5}`,
			cookbook: 2 + 4 - 1 + 1 + 1 + 2, // 9
			chars:    3,
			output:   5,
		},
		{
			name:     "content parts count their text; images count nothing",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"hello world"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}],"max_tokens":5}`,
			cookbook: 2 + 4 + 1 + 2, // 9
			chars:    3,
			output:   5,
		},
		{
			name: "tool calls count as their JSON",
			payload: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Weather in Paris?"},` +
				`{"role":"assistant","tool_calls":` + toolCall + `},` +
				`{"role":"tool","tool_call_id":"call_1","content":"{\"temp\":21}"}],"max_tokens":20}`,
			cookbook: 2 + (4 + 1 + 4) + (4 + 1 + 29) + (4 + 1 + 3 + 5), // 58
			chars:    (17 + 11 + 3) / 4,                                // 28 characters -> 7
			output:   20,
		},
		{
			name:     "n=2 doubles the output allowance",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello world"}],"max_tokens":300,"n":2}`,
			cookbook: 2 + 4 + 1 + 2,
			chars:    3,
			output:   600,
		},
		{
			name:     "max_completion_tokens",
			payload:  `{"model":"o3-mini","messages":[{"role":"user","content":"hello world"}],"max_completion_tokens":4000}`,
			cookbook: 2 + 4 + 1 + 2,
			chars:    3,
			output:   4000,
		},
		{
			name:     "both maxima: the larger",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello world"}],"max_tokens":100,"max_completion_tokens":300}`,
			cookbook: 2 + 4 + 1 + 2,
			chars:    3,
			output:   300,
		},
		{
			name:     "no maximum: DefaultMaxTokens",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello world"}]}`,
			cookbook: 2 + 4 + 1 + 2,
			chars:    3,
			output:   DefaultMaxTokens,
		},
		{
			name:     "no maximum: WithDefaultMaxTokens x n",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello world"}],"n":3}`,
			opts:     []Option{WithDefaultMaxTokens(256)},
			cookbook: 2 + 4 + 1 + 2,
			chars:    3,
			output:   768,
		},
		{
			name:     "fields go-openai drops are not sent, so not counted",
			payload:  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello world","x_note":"` + strings.Repeat("z", 400) + `"}],"max_tokens":5}`,
			cookbook: 2 + 4 + 1 + 2,
			chars:    3,
			output:   5,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := New(c.opts...)
			require.NoError(t, err)
			req, err := decodeRequest(json.RawMessage(c.payload))
			require.NoError(t, err)
			cookbook, err := cookbookTokens(req.Model, req.Messages)
			require.NoError(t, err)
			assert.Equal(t, c.cookbook, cookbook, "cookbook count")
			assert.Equal(t, c.chars, charTokens(req.Messages), "character count")

			u, err := p.EstimateUsage(json.RawMessage(c.payload))
			require.NoError(t, err)
			assert.Equal(t, llmqueue.Usage{InputTokens: max(c.cookbook, c.chars), OutputTokens: c.output}, u)
			n, err := p.EstimateTokens(json.RawMessage(c.payload))
			require.NoError(t, err)
			assert.Equal(t, u.InputTokens+u.OutputTokens, n, "EstimateTokens is input + output")
		})
	}
}

func TestEstimateUsage_HugeAllowanceSaturates(t *testing.T) {
	p, err := New()
	require.NoError(t, err)
	u, err := p.EstimateUsage(json.RawMessage(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":9000000000000000000,"n":1000}`))
	require.NoError(t, err)
	assert.Equal(t, llmqueue.MaxTokens, u.OutputTokens)
	n, err := p.EstimateTokens(json.RawMessage(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":9000000000000000000,"n":1000}`))
	require.NoError(t, err)
	assert.Equal(t, llmqueue.MaxTokens, n)
}

func TestEstimateUsage_InvalidPayload(t *testing.T) {
	p, err := New()
	require.NoError(t, err)
	for _, bad := range []string{``, `{`, `{"model":"gpt-4o-mini","messages":[]}`, `{"model":"gpt-4o-mini","messages":"hi"}`} {
		_, err := p.EstimateUsage(json.RawMessage(bad))
		assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload, bad)
		_, err = p.EstimateTokens(json.RawMessage(bad))
		assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload, bad)
	}
}
