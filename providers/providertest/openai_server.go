package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// OpenAIOptions configures NewOpenAIServer. The zero value is an unlimited
// server that accepts any key.
type OpenAIOptions struct {
	Limits
	// APIKey, when set, is the only bearer token accepted; any other gets
	// a 401 invalid_api_key.
	APIKey string
	// Latency is how long each completion takes.
	Latency time.Duration
	// OutputFraction is the share of the completion allowance a reply
	// uses; zero means all of it. OpenAI keeps charging the whole
	// allowance whatever the reply used.
	OutputFraction float64
	// OmitRateLimitHeaders leaves the x-ratelimit-* headers off successful
	// responses, as many OpenAI-compatible servers (vLLM, LiteLLM) do, so
	// the queue learns nothing until a 429. 429s still carry them.
	OmitRateLimitHeaders bool
}

// OpenAIServer is a fake OpenAI chat-completions server. Point a client at
// BaseURL.
type OpenAIServer struct {
	// Server is the underlying test server; Close stops it.
	*httptest.Server

	opts    OpenAIOptions
	limiter *limiter
	faults  faultQueue
	seq     atomic.Int64
}

// NewOpenAIServer starts a fake OpenAI server on loopback. It answers POST
// /v1/chat/completions (and /chat/completions) and meters calls the way
// OpenAI does: at arrival a call is charged prompt + allowance x n, where
// prompt = ceil(message characters / 4), allowance is the request's
// max_completion_tokens or max_tokens (DefaultCompletionTokens when neither
// is set) and n its "n" (default 1), and the charge stays for the whole
// window however little the reply used: it is never settled. The input
// dimension (ITPM) is the prompt, the output dimension (OTPM) the
// allowance x n. The reply's usage is prompt_tokens = prompt and
// completion_tokens = ceil(allowance x OutputFraction) x n.
//
// Every response carries x-ratelimit-limit-*, -remaining-* and -reset-*
// headers for tokens and requests; a refused request gets OpenAI's 429 body
// with retry-after-ms and the reset headers. Call Close when done.
func NewOpenAIServer(opts OpenAIOptions) *OpenAIServer {
	s := &OpenAIServer{opts: opts, limiter: newLimiter(opts.Limits)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("POST /chat/completions", s.handleChat)
	s.Server = newArrivalServer(mux)
	return s
}

// BaseURL is the URL to give the client (WithBaseURL): the server's URL
// plus "/v1".
func (s *OpenAIServer) BaseURL() string { return s.URL + "/v1" }

// Inject makes the next requests fail with faults, one request each, in
// order. Injected faults skip the rate limiter.
func (s *OpenAIServer) Inject(faults ...Fault) { s.faults.push(faults...) }

// Stats returns what the server has seen so far.
func (s *OpenAIServer) Stats() Stats { return s.limiter.snapshot() }

// Calls returns every call the server accepted, by arrival, with its
// charge.
func (s *OpenAIServer) Calls() []Call { return s.limiter.record() }

// chatRequest is the part of a chat-completions request the fake reads.
type chatRequest struct {
	Model               string        `json:"model"`
	Messages            []chatMessage `json:"messages"`
	MaxTokens           int64         `json:"max_tokens"`
	MaxCompletionTokens int64         `json:"max_completion_tokens"`
	N                   int64         `json:"n"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

func (s *OpenAIServer) handleChat(w http.ResponseWriter, r *http.Request) {
	s.limiter.count(func(st *Stats) { st.Requests++ })
	if s.opts.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		s.limiter.count(func(st *Stats) { st.Rejected++ })
		writeOpenAIError(w, http.StatusUnauthorized, "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key")
		return
	}
	if f, ok := s.faults.pop(); ok {
		s.limiter.count(func(st *Stats) { st.Injected++ })
		writeFault(w, r, f, writeOpenAIFault)
		return
	}
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model == "" || len(req.Messages) == 0 {
		s.limiter.count(func(st *Stats) { st.Rejected++ })
		writeOpenAIError(w, http.StatusBadRequest, "We could not parse the JSON body of your request, or it has no model or messages.", "invalid_request_error", nil)
		return
	}
	chars := 0
	for _, m := range req.Messages {
		chars += textChars(m.Content)
	}
	prompt := charsToTokens(chars)
	allowance := int64(DefaultCompletionTokens)
	if n := max(req.MaxCompletionTokens, req.MaxTokens); n > 0 {
		allowance = n
	}
	choices := max(1, req.N)
	charge := Call{At: arrival(r), Tokens: prompt + allowance*choices, InputTokens: prompt, OutputTokens: allowance * choices}
	v := s.limiter.admit(charge)
	if !v.ok || !s.opts.OmitRateLimitHeaders {
		setOpenAILimitHeaders(w.Header(), s.limiter.limits, v)
	}
	if !v.ok {
		s.rateLimited(w, req.Model, v, charge.Tokens)
		return
	}
	if s.opts.Latency > 0 {
		hang(r, Fault{Delay: s.opts.Latency})
	}
	n := s.seq.Add(1)
	completion := outputTokens(allowance, s.opts.OutputFraction)
	finish := "stop"
	if completion == allowance {
		finish = "length"
	}
	var out []map[string]any
	for i := range choices {
		out = append(out, map[string]any{
			"index":         i,
			"message":       map[string]any{"role": "assistant", "content": strings.TrimSpace(strings.Repeat("ok ", int(min(completion, 64))))},
			"finish_reason": finish,
		})
	}
	resp := map[string]any{
		"id":      fmt.Sprintf("chatcmpl-fake%d", n),
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   req.Model,
		"choices": out,
		"usage": map[string]any{
			"prompt_tokens":     prompt,
			"completion_tokens": completion * choices,
			"total_tokens":      prompt + completion*choices,
		},
		"system_fingerprint": "fp_fake",
	}
	s.limiter.count(func(st *Stats) { st.Completed++ })
	writeJSON(w, http.StatusOK, resp)
}

// rateLimited writes OpenAI's 429 for a request the window cannot take.
func (s *OpenAIServer) rateLimited(w http.ResponseWriter, model string, v verdict, requested int64) {
	w.Header().Set("retry-after-ms", strconv.FormatInt(v.wait.Milliseconds()+1, 10))
	w.Header().Set("Retry-After", strconv.FormatInt(int64(v.wait/time.Second)+1, 10))
	limit := s.limiter.limits.caps()[v.limit]
	wait := v.wait.Round(time.Millisecond)
	var msg string
	if v.limit == dimRequests {
		msg = fmt.Sprintf("Rate limit reached for %s in organization org-fake on requests per min (RPM): Limit %d. Please try again in %s. Visit https://platform.openai.com/account/rate-limits to learn more.",
			model, limit, wait)
		writeOpenAIError(w, http.StatusTooManyRequests, msg, "requests", "rate_limit_exceeded")
		return
	}
	name := map[dim]string{dimTokens: "tokens per min (TPM)", dimInput: "input tokens per min (ITPM)", dimOutput: "output tokens per min (OTPM)"}[v.limit]
	msg = fmt.Sprintf("Rate limit reached for %s in organization org-fake on %s: Limit %d, Used %d, Requested %d. Please try again in %s. Visit https://platform.openai.com/account/rate-limits to learn more.",
		model, name, limit, v.used[v.limit], requested, wait)
	writeOpenAIError(w, http.StatusTooManyRequests, msg, "tokens", "rate_limit_exceeded")
}

// setOpenAILimitHeaders writes the x-ratelimit-* headers of the token and
// request limits. A reset is when that window is empty again, except that
// the limit which refused a call resets when the call would fit, which is
// what a client waiting on it needs.
func setOpenAILimitHeaders(h http.Header, l Limits, v verdict) {
	reset := v.reset
	if !v.ok {
		d := v.limit
		if d == dimInput || d == dimOutput {
			d = dimTokens // OpenAI reports one token limit
		}
		reset[d] = v.wait
	}
	if l.TPM > 0 {
		h.Set("x-ratelimit-limit-tokens", strconv.FormatInt(l.TPM, 10))
		h.Set("x-ratelimit-remaining-tokens", strconv.FormatInt(v.remaining[dimTokens], 10))
		h.Set("x-ratelimit-reset-tokens", reset[dimTokens].Round(time.Millisecond).String())
	}
	if l.RPM > 0 {
		h.Set("x-ratelimit-limit-requests", strconv.FormatInt(l.RPM, 10))
		h.Set("x-ratelimit-remaining-requests", strconv.FormatInt(v.remaining[dimRequests], 10))
		h.Set("x-ratelimit-reset-requests", reset[dimRequests].Round(time.Millisecond).String())
	}
}

// writeOpenAIFault writes an injected fault as OpenAI's error response;
// writeFault has already handled the faults that are not an error body.
func writeOpenAIFault(w http.ResponseWriter, f Fault) {
	msg := f.messageOr
	switch f.Kind {
	case FaultRateLimit:
		writeOpenAIError(w, http.StatusTooManyRequests, msg("Rate limit reached for requests"), "requests", "rate_limit_exceeded")
	case FaultQuota:
		writeOpenAIError(w, http.StatusTooManyRequests, msg("You exceeded your current quota, please check your plan and billing details."), "insufficient_quota", "insufficient_quota")
	case FaultAuth:
		writeOpenAIError(w, http.StatusUnauthorized, msg("Incorrect API key provided."), "invalid_request_error", "invalid_api_key")
	case FaultBadRequest:
		writeOpenAIError(w, http.StatusBadRequest, msg("Invalid value for 'temperature': must be between 0 and 2."), "invalid_request_error", nil)
	case FaultNotFound:
		writeOpenAIError(w, http.StatusNotFound, msg("The model `gpt-nope` does not exist or you do not have access to it."), "invalid_request_error", "model_not_found")
	case FaultServer:
		writeOpenAIError(w, http.StatusInternalServerError, msg("The server had an error while processing your request. Sorry about that!"), "server_error", nil)
	case FaultUnavailable:
		writeOpenAIError(w, http.StatusServiceUnavailable, msg("The engine is currently overloaded, please try again later."), "server_error", nil)
	case FaultModelTimeout:
		writeOpenAIError(w, http.StatusRequestTimeout, msg("Request timed out."), "timeout", nil)
	case FaultHang: // the client waited f.Delay for this
		writeOpenAIError(w, http.StatusGatewayTimeout, msg("Gateway timeout."), "server_error", nil)
	case FaultCustom:
		writeOpenAIError(w, f.Status, msg("custom fault"), "invalid_request_error", f.Code)
	default:
		writeOpenAIError(w, http.StatusInternalServerError, msg("unknown fault "+f.Kind.String()), "server_error", nil)
	}
}

// writeOpenAIError writes OpenAI's error body:
// {"error":{"message":…,"type":…,"param":null,"code":…}}.
func writeOpenAIError(w http.ResponseWriter, status int, message, typ string, code any) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": message, "type": typ, "param": nil, "code": code,
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
