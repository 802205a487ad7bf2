package providertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openAIReply is what a test reads back from the fake.
type openAIReply struct {
	status int
	header http.Header
	body   struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
			TotalTokens      int64 `json:"total_tokens"`
		} `json:"usage"`
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		} `json:"error"`
	}
}

func postChat(t *testing.T, s *OpenAIServer, body string) openAIReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.BaseURL()+"/chat/completions", bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sk-test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	r := openAIReply{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r.body))
	return r
}

func TestOpenAIServer_Metering(t *testing.T) {
	// 40 characters: a 10-token prompt.
	chat := func(extra string) string {
		return `{"model":"gpt-test","messages":[{"role":"user","content":"` + strings.Repeat("a", 40) + `"}]` + extra + `}`
	}
	cases := []struct {
		name     string
		opts     OpenAIOptions
		body     string
		admitted int // of three identical calls
		// refusedBy is the 429's error type when one is refused.
		refusedBy string
		usage     [2]int64 // prompt, completion of an admitted call
		call      Call     // its charge, never settled
		finish    string
	}{
		{"max_tokens", OpenAIOptions{Limits: Limits{TPM: 200}}, chat(`,"max_tokens":50`), 3, "",
			[2]int64{10, 50}, Call{Tokens: 60, InputTokens: 10, OutputTokens: 50}, "length"},
		{"max_completion_tokens", OpenAIOptions{}, chat(`,"max_completion_tokens":30`), 3, "",
			[2]int64{10, 30}, Call{Tokens: 40, InputTokens: 10, OutputTokens: 30}, "length"},
		{"default allowance", OpenAIOptions{}, chat(``), 3, "",
			[2]int64{10, DefaultCompletionTokens}, Call{Tokens: 10 + DefaultCompletionTokens, InputTokens: 10, OutputTokens: DefaultCompletionTokens}, "length"},
		{"n multiplies the allowance", OpenAIOptions{Limits: Limits{TPM: 250}}, chat(`,"max_tokens":50,"n":2`), 2, "tokens",
			[2]int64{10, 100}, Call{Tokens: 110, InputTokens: 10, OutputTokens: 100}, "length"},
		{"a short reply is still charged its allowance", OpenAIOptions{Limits: Limits{TPM: 150}, OutputFraction: 0.1}, chat(`,"max_tokens":50`), 2, "tokens",
			[2]int64{10, 5}, Call{Tokens: 60, InputTokens: 10, OutputTokens: 50}, "stop"},
		{"input dimension", OpenAIOptions{Limits: Limits{ITPM: 25}}, chat(`,"max_tokens":5`), 2, "tokens",
			[2]int64{10, 5}, Call{Tokens: 15, InputTokens: 10, OutputTokens: 5}, "length"},
		{"output dimension", OpenAIOptions{Limits: Limits{OTPM: 100}}, chat(`,"max_tokens":50`), 2, "tokens",
			[2]int64{10, 50}, Call{Tokens: 60, InputTokens: 10, OutputTokens: 50}, "length"},
		{"requests", OpenAIOptions{Limits: Limits{RPM: 1}}, chat(`,"max_tokens":5`), 1, "requests",
			[2]int64{10, 5}, Call{Tokens: 15, InputTokens: 10, OutputTokens: 5}, "length"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Window = 3 * time.Second
			srv := NewOpenAIServer(c.opts)
			t.Cleanup(srv.Close)
			for i := range 3 {
				r := postChat(t, srv, c.body)
				if i < c.admitted {
					require.Equal(t, http.StatusOK, r.status, "call %d: %+v", i, r.body.Error)
					u := r.body.Usage
					assert.Equal(t, c.usage, [2]int64{u.PromptTokens, u.CompletionTokens})
					assert.Equal(t, u.PromptTokens+u.CompletionTokens, u.TotalTokens)
					assert.Equal(t, c.finish, r.body.Choices[0].FinishReason)
					if c.opts.TPM > 0 {
						assert.Equal(t, strconv.FormatInt(c.opts.TPM-int64(i+1)*c.call.Tokens, 10), r.header.Get("x-ratelimit-remaining-tokens"))
						assert.NotEmpty(t, r.header.Get("x-ratelimit-reset-tokens"))
					}
					continue
				}
				require.Equal(t, http.StatusTooManyRequests, r.status, "call %d", i)
				assert.Equal(t, c.refusedBy, r.body.Error.Type)
				assert.Equal(t, "rate_limit_exceeded", r.body.Error.Code)
				ms, err := strconv.ParseInt(r.header.Get("retry-after-ms"), 10, 64)
				require.NoError(t, err)
				assert.True(t, ms > 0 && ms <= 3001, "retry-after-ms %d", ms)
				assert.NotEmpty(t, r.header.Get("Retry-After"))
			}
			calls := srv.Calls()
			require.Len(t, calls, c.admitted)
			for _, call := range calls {
				call.At = time.Time{}
				assert.Equal(t, c.call, call, "charged at arrival, never settled")
			}
			st := srv.Stats()
			assert.Equal(t, int64(3-c.admitted), st.RateLimited)
			assert.Equal(t, int64(c.admitted)*c.call.Tokens, st.TokensCharged)
			assert.Equal(t, int64(c.admitted)*c.call.Tokens, st.PeakWindowTokens)
			assert.Equal(t, int64(c.admitted)*c.call.InputTokens, st.PeakWindowInputTokens)
			assert.Equal(t, int64(c.admitted)*c.call.OutputTokens, st.PeakWindowOutputTokens)
			assert.Equal(t, int64(c.admitted), st.PeakWindowRequests)
		})
	}
}

// TestOpenAIServer_WindowSlides: a refused call fits once the wait the 429
// names has passed, and not because anything was given back earlier.
func TestOpenAIServer_WindowSlides(t *testing.T) {
	srv := NewOpenAIServer(OpenAIOptions{Limits: Limits{TPM: 100, RPM: 10, Window: 500 * time.Millisecond}, OutputFraction: 0.1})
	t.Cleanup(srv.Close)
	body := `{"model":"m","messages":[{"role":"user","content":"abcd"}],"max_tokens":59}`
	require.Equal(t, http.StatusOK, postChat(t, srv, body).status)
	r := postChat(t, srv, body)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, "40", r.header.Get("x-ratelimit-remaining-tokens"))
	assert.Equal(t, "9", r.header.Get("x-ratelimit-remaining-requests"))
	reset, err := time.ParseDuration(r.header.Get("x-ratelimit-reset-tokens"))
	require.NoError(t, err)
	ms, _ := strconv.Atoi(r.header.Get("retry-after-ms"))
	assert.InDelta(t, float64(reset.Milliseconds()), float64(ms), 2, "the token reset is the wait")
	assert.Contains(t, r.body.Error.Message, "Limit 100, Used 60, Requested 60")
	time.Sleep(time.Duration(ms) * time.Millisecond)
	assert.Equal(t, http.StatusOK, postChat(t, srv, body).status)
	calls := srv.Calls()
	require.Len(t, calls, 2)
	assert.GreaterOrEqual(t, calls[1].At.Sub(calls[0].At), 500*time.Millisecond)
	assert.Equal(t, int64(60), BusiestWindow(calls, 500*time.Millisecond).Tokens)
}
