package providertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// anthropicReply is what a test reads back from the fake.
type anthropicReply struct {
	status int
	header http.Header
	body   struct {
		Type       string `json:"type"`
		StopReason string `json:"stop_reason"`
		Content    []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		Usage struct {
			InputTokens              int64 `json:"input_tokens"`
			OutputTokens             int64 `json:"output_tokens"`
			CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
			CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		} `json:"usage"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
}

// messagesBody is a Messages API request whose one user message has
// promptChars characters.
func messagesBody(promptChars, maxTokens int) string {
	return `{"model":"claude-test","max_tokens":` + strconv.Itoa(maxTokens) +
		`,"messages":[{"role":"user","content":"` + strings.Repeat("a", promptChars) + `"}]}`
}

// postMessages sends body with a valid key and version unless header
// overrides them.
func postMessages(t *testing.T, s *AnthropicServer, body string, header http.Header) anthropicReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.BaseURL()+"/v1/messages", bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("content-type", "application/json")
	req.Header.Set("x-api-key", "sk-ant-test")
	req.Header.Set("anthropic-version", "2023-06-01")
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			if v != "" {
				req.Header.Add(k, v)
			}
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	r := anthropicReply{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r.body))
	return r
}

// assertReset checks an anthropic-ratelimit-*-reset is an RFC 3339 time
// no later than a window (plus the rounding second) from now.
func assertReset(t *testing.T, h http.Header, name string, window time.Duration) {
	t.Helper()
	v := h.Get("anthropic-ratelimit-" + name + "-reset")
	at, err := time.Parse(time.RFC3339, v)
	require.NoError(t, err, "%s-reset %q", name, v)
	assert.WithinRange(t, at, time.Now().Add(-time.Second), time.Now().Add(window+time.Second), name)
}

func TestAnthropicServer_Metering(t *testing.T) {
	type step struct {
		chars, maxTokens int
		// refusedBy is the dimension header name that refuses the call,
		// "" when it is admitted.
		refusedBy string
	}
	cases := []struct {
		name   string
		opts   AnthropicOptions
		steps  []step
		usage  [2]int64 // input_tokens, output_tokens of an admitted call
		cached int64
		call   Call // each admitted call's final charge
		peak   Stats
	}{
		{
			name: "OTPM reserved at max_tokens, settled to the output",
			opts: AnthropicOptions{Limits: Limits{OTPM: 100}, OutputFraction: 0.25},
			// 60 then 15; 15+60 then 30; 30+60 then 45; 45+60 > 100.
			steps: []step{{8, 60, ""}, {8, 60, ""}, {8, 60, ""}, {8, 60, "output-tokens"}},
			usage: [2]int64{2, 15},
			call:  Call{Tokens: 17, InputTokens: 2, OutputTokens: 15},
			peak:  Stats{PeakWindowTokens: 96, PeakWindowInputTokens: 6, PeakWindowOutputTokens: 90, PeakWindowRequests: 3},
		},
		{
			name: "ITPM counts uncached input only",
			opts: AnthropicOptions{Limits: Limits{ITPM: 30}, CacheReadFraction: 0.5},
			// 80 characters: 20 tokens, 10 read from the cache.
			steps:  []step{{80, 4, ""}, {80, 4, ""}, {80, 4, ""}, {80, 4, "input-tokens"}},
			usage:  [2]int64{10, 4},
			cached: 10,
			call:   Call{Tokens: 14, InputTokens: 10, OutputTokens: 4},
			peak:   Stats{PeakWindowTokens: 42, PeakWindowInputTokens: 30, PeakWindowOutputTokens: 12, PeakWindowRequests: 3},
		},
		{
			name:  "RPM",
			opts:  AnthropicOptions{Limits: Limits{RPM: 2}},
			steps: []step{{4, 5, ""}, {4, 5, ""}, {4, 5, "requests"}},
			usage: [2]int64{1, 5},
			call:  Call{Tokens: 6, InputTokens: 1, OutputTokens: 5},
			peak:  Stats{PeakWindowTokens: 12, PeakWindowInputTokens: 2, PeakWindowOutputTokens: 10, PeakWindowRequests: 2},
		},
		{
			name: "TPM is input + output with the same settle",
			opts: AnthropicOptions{Limits: Limits{TPM: 100}, OutputFraction: 0.5},
			// 50 then 26; 26+50 then 52; 52+50 > 100.
			steps: []step{{8, 48, ""}, {8, 48, ""}, {8, 48, "tokens"}},
			usage: [2]int64{2, 24},
			call:  Call{Tokens: 26, InputTokens: 2, OutputTokens: 24},
			peak:  Stats{PeakWindowTokens: 76, PeakWindowInputTokens: 4, PeakWindowOutputTokens: 72, PeakWindowRequests: 2},
		},
		{
			name:  "a call over the whole limit waits a window",
			opts:  AnthropicOptions{Limits: Limits{OTPM: 10}},
			steps: []step{{4, 11, "output-tokens"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Window = 3 * time.Second
			c.opts.APIKey = "sk-ant-test"
			srv := NewAnthropicServer(c.opts)
			t.Cleanup(srv.Close)
			start := time.Now()
			admitted := 0
			for i, s := range c.steps {
				r := postMessages(t, srv, messagesBody(s.chars, s.maxTokens), nil)
				assert.NotEmpty(t, r.header.Get("request-id"), "step %d", i)
				if s.refusedBy == "" {
					admitted++
					require.Equal(t, http.StatusOK, r.status, "step %d: %+v", i, r.body.Error)
					assert.Equal(t, c.usage, [2]int64{r.body.Usage.InputTokens, r.body.Usage.OutputTokens}, "step %d", i)
					assert.Equal(t, c.cached, r.body.Usage.CacheReadInputTokens)
					assert.Zero(t, r.body.Usage.CacheCreationInputTokens)
					continue
				}
				require.Equal(t, http.StatusTooManyRequests, r.status, "step %d", i)
				assert.Equal(t, "rate_limit_error", r.body.Error.Type)
				limit := c.opts.Limits.caps()[dimOf(s.refusedBy)]
				assert.Contains(t, r.body.Error.Message, "of "+strconv.FormatInt(limit, 10)+" "+strings.ReplaceAll(s.refusedBy, "-", " ")+" per minute")
				secs, err := strconv.Atoi(r.header.Get("retry-after"))
				require.NoError(t, err, "retry-after is whole seconds")
				assert.True(t, secs >= 1 && secs <= 3, "retry-after %d within the window", secs)
				remaining, err := strconv.ParseInt(r.header.Get("anthropic-ratelimit-"+s.refusedBy+"-remaining"), 10, 64)
				require.NoError(t, err)
				input := charsToTokens(s.chars) - c.cached
				need := map[string]int64{"tokens": input + int64(s.maxTokens), "input-tokens": input,
					"output-tokens": int64(s.maxTokens), "requests": 1}[s.refusedBy]
				assert.Less(t, remaining, need, "the refused call does not fit what remains")
				assertReset(t, r.header, s.refusedBy, c.opts.Window)
			}
			calls := srv.Calls()
			require.Len(t, calls, admitted)
			for _, call := range calls {
				assert.WithinRange(t, call.At, start, time.Now())
				call.At = time.Time{}
				assert.Equal(t, c.call, call)
			}
			st := srv.Stats()
			assert.Equal(t, int64(len(c.steps)), st.Requests)
			assert.Equal(t, int64(admitted), st.Completed)
			assert.Equal(t, int64(len(c.steps)-admitted), st.RateLimited)
			assert.Equal(t, int64(admitted)*c.call.Tokens, st.TokensCharged)
			assert.Equal(t, c.peak, Stats{PeakWindowTokens: st.PeakWindowTokens, PeakWindowInputTokens: st.PeakWindowInputTokens,
				PeakWindowOutputTokens: st.PeakWindowOutputTokens, PeakWindowRequests: st.PeakWindowRequests})
		})
	}
}

// dimOf maps an anthropic-ratelimit header name back to its dimension.
func dimOf(header string) dim {
	for d, n := range anthropicDims {
		if n.header == header {
			return dim(d)
		}
	}
	panic("no dimension " + header)
}

func TestAnthropicServer_Headers(t *testing.T) {
	cases := []struct {
		name    string
		limits  Limits
		present []string
		absent  []string
		// tokens is the tokens-limit header, which stands for TPM or the
		// tightest of input and output.
		tokens string
	}{
		{"none limited", Limits{}, nil, []string{"requests", "input-tokens", "output-tokens", "tokens"}, ""},
		{"all three", Limits{RPM: 50, ITPM: 1000, OTPM: 200}, []string{"requests", "input-tokens", "output-tokens", "tokens"}, nil, "200"},
		{"input only", Limits{ITPM: 1000}, []string{"input-tokens", "tokens"}, []string{"requests", "output-tokens"}, "1000"},
		{"combined", Limits{TPM: 5000, ITPM: 1000}, []string{"input-tokens", "tokens"}, []string{"requests", "output-tokens"}, "5000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.limits.Window = 2 * time.Second
			srv := NewAnthropicServer(AnthropicOptions{Limits: c.limits})
			t.Cleanup(srv.Close)
			r := postMessages(t, srv, messagesBody(40, 100), nil)
			require.Equal(t, http.StatusOK, r.status)
			for _, name := range c.present {
				_, err := strconv.ParseInt(r.header.Get("anthropic-ratelimit-"+name+"-limit"), 10, 64)
				assert.NoError(t, err, name)
				_, err = strconv.ParseInt(r.header.Get("anthropic-ratelimit-"+name+"-remaining"), 10, 64)
				assert.NoError(t, err, name)
				assertReset(t, r.header, name, c.limits.Window)
			}
			for _, name := range c.absent {
				assert.Empty(t, r.header.Get("anthropic-ratelimit-"+name+"-limit"), name)
			}
			assert.Equal(t, c.tokens, r.header.Get("anthropic-ratelimit-tokens-limit"))
			if c.limits.RPM > 0 {
				assert.Equal(t, "49", r.header.Get("anthropic-ratelimit-requests-remaining"))
			}
			if c.limits.ITPM > 0 {
				assert.Equal(t, "990", r.header.Get("anthropic-ratelimit-input-tokens-remaining"), "40 characters: 10 tokens")
			}
			if c.limits.OTPM > 0 {
				assert.Equal(t, "100", r.header.Get("anthropic-ratelimit-output-tokens-remaining"), "settled to the output")
			}
		})
	}
}

// TestAnthropicServer_OutputReservedWhileRunning: until a reply ends its
// max_tokens holds OTPM, so a second call cannot use the part the first will
// give back.
func TestAnthropicServer_OutputReservedWhileRunning(t *testing.T) {
	srv := NewAnthropicServer(AnthropicOptions{Limits: Limits{OTPM: 100, Window: 5 * time.Second},
		Latency: 300 * time.Millisecond, OutputFraction: 0.1})
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	var first anthropicReply
	wg.Go(func() { first = postMessages(t, srv, messagesBody(4, 60), nil) })
	time.Sleep(100 * time.Millisecond)
	during := postMessages(t, srv, messagesBody(4, 60), nil)
	wg.Wait()
	assert.Equal(t, http.StatusOK, first.status)
	assert.Equal(t, "end_turn", first.body.StopReason)
	assert.Equal(t, http.StatusTooManyRequests, during.status, "60 reserved + 60 > 100")
	assert.Equal(t, "40", during.header.Get("anthropic-ratelimit-output-tokens-remaining"))
	after := postMessages(t, srv, messagesBody(4, 60), nil)
	assert.Equal(t, http.StatusOK, after.status, "6 settled + 60 fits")
	assert.Equal(t, int64(66), srv.Stats().PeakWindowOutputTokens, "6 settled + 60 reserved")
}

func TestAnthropicServer_Requests(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		header  http.Header
		status  int
		errType string
		message string
		input   int64
	}{
		{"ok", messagesBody(8, 5), nil, http.StatusOK, "", "", 2},
		{"no key", messagesBody(8, 5), http.Header{"X-Api-Key": {""}}, http.StatusUnauthorized, "authentication_error", "invalid x-api-key", 0},
		{"bearer key", messagesBody(8, 5), http.Header{"X-Api-Key": {""}, "Authorization": {"Bearer sk-ant-test"}}, http.StatusOK, "", "", 2},
		{"wrong bearer", messagesBody(8, 5), http.Header{"X-Api-Key": {""}, "Authorization": {"Bearer sk-ant-other"}}, http.StatusUnauthorized, "authentication_error", "invalid x-api-key", 0},
		{"wrong key", messagesBody(8, 5), http.Header{"X-Api-Key": {"sk-ant-other"}}, http.StatusUnauthorized, "authentication_error", "invalid x-api-key", 0},
		{"no version", messagesBody(8, 5), http.Header{"Anthropic-Version": {""}}, http.StatusBadRequest, "invalid_request_error", "anthropic-version", 0},
		{"no max_tokens", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, nil, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required", 0},
		{"zero max_tokens", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, nil, http.StatusBadRequest, "invalid_request_error", "max_tokens", 0},
		{"no model", `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, nil, http.StatusBadRequest, "invalid_request_error", "model: Field required", 0},
		{"no messages", `{"model":"m","max_tokens":5}`, nil, http.StatusBadRequest, "invalid_request_error", "messages", 0},
		{"system role", `{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"hi"}]}`, nil, http.StatusBadRequest, "invalid_request_error", "role", 0},
		{"not JSON", `{`, nil, http.StatusBadRequest, "invalid_request_error", "JSON", 0},
		{"system string and blocks counted", `{"model":"m","max_tokens":5,"system":"abcdefgh",` +
			`"messages":[{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"text","text":"abcd"}]},` +
			`{"role":"assistant","content":"abcd"},{"role":"user","content":"abcd"}]}`, nil, http.StatusOK, "", "", 6},
		{"system blocks", `{"model":"m","max_tokens":5,"system":[{"type":"text","text":"abcdefghi"}],` +
			`"messages":[{"role":"user","content":"abc"}]}`, nil, http.StatusOK, "", "", 3},
	}
	srv := NewAnthropicServer(AnthropicOptions{APIKey: "sk-ant-test"})
	t.Cleanup(srv.Close)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := postMessages(t, srv, c.body, c.header)
			require.Equal(t, c.status, r.status, "%+v", r.body.Error)
			assert.NotEmpty(t, r.header.Get("request-id"))
			if c.status != http.StatusOK {
				assert.Equal(t, "error", r.body.Type)
				assert.Equal(t, c.errType, r.body.Error.Type)
				assert.Contains(t, r.body.Error.Message, c.message)
				return
			}
			assert.Equal(t, "message", r.body.Type)
			assert.Equal(t, c.input, r.body.Usage.InputTokens)
			assert.Equal(t, int64(5), r.body.Usage.OutputTokens)
			assert.Equal(t, "max_tokens", r.body.StopReason)
			require.Len(t, r.body.Content, 1)
			assert.Equal(t, "text", r.body.Content[0].Type)
			assert.Equal(t, "ok ok ok ok ok", r.body.Content[0].Text)
		})
	}
	st := srv.Stats()
	assert.Equal(t, int64(len(cases)), st.Requests)
	assert.Equal(t, int64(4), st.Completed)
	assert.Equal(t, int64(len(cases)-4), st.Rejected)
	assert.Len(t, srv.Calls(), 4)
}

func TestAnthropicServer_Faults(t *testing.T) {
	cases := []struct {
		fault      Fault
		status     int
		errType    string
		message    string
		retryAfter string
	}{
		{Fault{Kind: FaultRateLimit}, http.StatusTooManyRequests, "rate_limit_error", "rate limit", "1"},
		{Fault{Kind: FaultRateLimit, Header: http.Header{"Retry-After": {"7"}}}, http.StatusTooManyRequests, "rate_limit_error", "", "7"},
		{Fault{Kind: FaultRateLimit, Header: http.Header{"X-Other": {"x"}}}, http.StatusTooManyRequests, "rate_limit_error", "", ""},
		{Fault{Kind: FaultUnavailable}, 529, "overloaded_error", "Overloaded", ""},
		{Fault{Kind: FaultServer}, http.StatusInternalServerError, "api_error", "", ""},
		{Fault{Kind: FaultAuth}, http.StatusUnauthorized, "authentication_error", "", ""},
		{Fault{Kind: FaultBadRequest, Message: "temperature is out of range"}, http.StatusBadRequest, "invalid_request_error", "temperature is out of range", ""},
		{Fault{Kind: FaultNotFound}, http.StatusNotFound, "not_found_error", "", ""},
		{Fault{Kind: FaultQuota}, http.StatusBadRequest, "invalid_request_error", "credit balance is too low", ""},
		{Fault{Kind: FaultModelTimeout}, http.StatusGatewayTimeout, "timeout_error", "", ""},
		{Fault{Kind: FaultHang, Delay: 10 * time.Millisecond}, http.StatusGatewayTimeout, "timeout_error", "", ""},
		{Fault{Kind: FaultCustom, Status: 413, Code: "request_too_large"}, 413, "request_too_large", "", ""},
	}
	srv := NewAnthropicServer(AnthropicOptions{Limits: Limits{RPM: 1}})
	t.Cleanup(srv.Close)
	for _, c := range cases {
		t.Run(c.fault.Kind.String(), func(t *testing.T) {
			srv.Inject(c.fault)
			r := postMessages(t, srv, messagesBody(4, 5), nil)
			assert.Equal(t, c.status, r.status)
			assert.Equal(t, c.errType, r.body.Error.Type)
			assert.Contains(t, r.body.Error.Message, c.message)
			assert.Equal(t, c.retryAfter, r.header.Get("retry-after"))
			assert.Empty(t, r.header.Get("anthropic-ratelimit-requests-remaining"), "faults skip the limiter")
		})
	}
	st := srv.Stats()
	assert.Equal(t, int64(len(cases)), st.Injected)
	assert.Zero(t, st.RateLimited)
	assert.Empty(t, srv.Calls())
	assert.Equal(t, http.StatusOK, postMessages(t, srv, messagesBody(4, 5), nil).status, "the fault queue is drained")
}

func TestAnthropicServer_CountTokens(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		header  http.Header
		status  int
		errType string
		tokens  int64
	}{
		{"counted like a message", `{"model":"m","system":"abcd","messages":[{"role":"user","content":"abcdefgh"}]}`, nil, http.StatusOK, "", 3},
		{"max_tokens is not needed", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"abcde"}]}]}`, nil, http.StatusOK, "", 2},
		{"no messages", `{"model":"m"}`, nil, http.StatusBadRequest, "invalid_request_error", 0},
		{"wrong key", `{"model":"m","messages":[{"role":"user","content":"a"}]}`, http.Header{"X-Api-Key": {"nope"}}, http.StatusUnauthorized, "authentication_error", 0},
	}
	srv := NewAnthropicServer(AnthropicOptions{APIKey: "sk-ant-test", Limits: Limits{RPM: 1}})
	t.Cleanup(srv.Close)
	srv.Inject(Fault{Kind: FaultServer})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.BaseURL()+"/v1/messages/count_tokens", strings.NewReader(c.body))
			require.NoError(t, err)
			req.Header.Set("x-api-key", "sk-ant-test")
			req.Header.Set("anthropic-version", "2023-06-01")
			for k, v := range c.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body struct {
				InputTokens int64 `json:"input_tokens"`
				Error       struct {
					Type string `json:"type"`
				} `json:"error"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, c.status, resp.StatusCode)
			assert.Equal(t, c.tokens, body.InputTokens)
			assert.Equal(t, c.errType, body.Error.Type)
			assert.NotEmpty(t, resp.Header.Get("request-id"))
		})
	}
	st := srv.Stats()
	assert.Equal(t, int64(len(cases)), st.CountTokens)
	assert.Zero(t, st.Requests, "count_tokens is not a Messages call")
	assert.Zero(t, st.Rejected)
	assert.Empty(t, srv.Calls())
	assert.Equal(t, http.StatusInternalServerError, postMessages(t, srv, messagesBody(4, 5), nil).status, "the fault waited for a Messages call")
	assert.Equal(t, http.StatusOK, postMessages(t, srv, messagesBody(4, 5), nil).status, "count_tokens used no RPM")
}
