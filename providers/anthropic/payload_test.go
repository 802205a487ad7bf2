package anthropic_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/anthropic"
)

func TestAnthropic_Validate(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	cases := []struct {
		name    string
		payload string
		problem string // "" means valid
	}{
		{"minimal", `{"model":"m","max_tokens":10,` + msgs + `}`, ""},
		{"blocks-system-and-tools", `{"model":"m","max_tokens":10,"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],` +
			`"tools":[{"name":"f","input_schema":{"type":"object"}}],` +
			`"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":"hello"}]}`, ""},
		{"stream-false", `{"model":"m","max_tokens":10,"stream":false,` + msgs + `}`, ""},
		{"unknown-fields-pass", `{"model":"m","max_tokens":10,"future":1,` + msgs + `}`, ""},
		{"unknown-role-left-to-the-api", `{"model":"m","max_tokens":10,"messages":[{"role":"narrator","content":"hi"}]}`, ""},

		{"empty", ``, "empty payload"},
		{"not-json", `{"model":`, "decode"},
		{"array", `[]`, "decode"},
		{"null", `null`, "null"},
		{"no-model", `{"max_tokens":10,` + msgs + `}`, "model"},
		{"model-not-string", `{"model":5,"max_tokens":10,` + msgs + `}`, "model"},
		{"no-max-tokens", `{"model":"m",` + msgs + `}`, "max_tokens"},
		{"zero-max-tokens", `{"model":"m","max_tokens":0,` + msgs + `}`, "max_tokens"},
		{"negative-max-tokens", `{"model":"m","max_tokens":-1,` + msgs + `}`, "max_tokens"},
		{"string-max-tokens", `{"model":"m","max_tokens":"10",` + msgs + `}`, "max_tokens"},
		{"fractional-max-tokens", `{"model":"m","max_tokens":10.5,` + msgs + `}`, "max_tokens"},
		{"huge-max-tokens", `{"model":"m","max_tokens":1e30,` + msgs + `}`, "max_tokens"},
		{"no-messages", `{"model":"m","max_tokens":10}`, "messages"},
		{"empty-messages", `{"model":"m","max_tokens":10,"messages":[]}`, "messages"},
		{"messages-string", `{"model":"m","max_tokens":10,"messages":"hi"}`, "messages"},
		{"message-null", `{"model":"m","max_tokens":10,"messages":[null]}`, "messages[0]"},
		{"message-no-role", `{"model":"m","max_tokens":10,"messages":[{"content":"hi"}]}`, "messages[0].role"},
		{"message-no-content", `{"model":"m","max_tokens":10,"messages":[{"role":"user"}]}`, "messages[0].content"},
		{"message-number-content", `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":5}]}`, "messages[0].content"},
		{"message-null-block", `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[null]}]}`, "messages[0].content"},
		{"stream-true", `{"model":"m","max_tokens":10,"stream":true,` + msgs + `}`, "stream"},
		{"stream-string", `{"model":"m","max_tokens":10,"stream":"yes",` + msgs + `}`, "stream"},
		{"system-number", `{"model":"m","max_tokens":10,"system":5,` + msgs + `}`, "system"},
		{"too-long-without-streaming", `{"model":"m","max_tokens":64000,` + msgs + `}`, "WithTimeout"},
		{"over-model-non-streaming-cap", `{"model":"claude-opus-4-0","max_tokens":9000,` + msgs + `}`, "WithTimeout"},
	}
	proc, err := anthropic.New(anthropic.WithAPIKey(testKey))
	require.NoError(t, err)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := proc.Validate(json.RawMessage(c.payload))
			if c.problem == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
			assert.Contains(t, err.Error(), c.problem)
			_, err = proc.Process(context.Background(), &llmqueue.Job{ID: "t", Payload: json.RawMessage(c.payload), Attempt: 1})
			var perm *llmqueue.PermanentError
			require.ErrorAs(t, err, &perm, "Process refuses it too, without a call")
		})
	}
}

func TestAnthropic_TimeoutAllowsLongRequests(t *testing.T) {
	p := json.RawMessage(`{"model":"claude-opus-4-0","max_tokens":64000,"messages":[{"role":"user","content":"write a book"}]}`)
	proc, err := anthropic.New(anthropic.WithAPIKey(testKey))
	require.NoError(t, err)
	require.ErrorIs(t, proc.Validate(p), llmqueue.ErrInvalidPayload, "the SDK would refuse it under its 10-minute default")

	proc, err = anthropic.New(anthropic.WithAPIKey(testKey), anthropic.WithTimeout(time.Hour))
	require.NoError(t, err)
	assert.NoError(t, proc.Validate(p), "with a timeout of our own the SDK sends it")
}
