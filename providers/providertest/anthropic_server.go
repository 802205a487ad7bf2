package providertest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"
)

// AnthropicOptions configures NewAnthropicServer. The zero value is an
// unlimited server that accepts any key.
type AnthropicOptions struct {
	Limits
	// APIKey, when set, is the only key accepted, in x-api-key or as
	// "Authorization: Bearer <key>" (which anthropic-sdk-go v2 sends for
	// option.WithAPIKey); any other gets a 401 authentication_error.
	APIKey string
	// Latency is how long each message takes.
	Latency time.Duration
	// OutputFraction is the share of max_tokens a reply uses; zero means
	// all of it. Below 1 the OTPM charge settles down when the reply ends.
	OutputFraction float64
	// CacheReadFraction is the share of the input reported as read from the
	// prompt cache (cache_read_input_tokens), which ITPM does not count.
	CacheReadFraction float64
}

// AnthropicServer is a fake Anthropic Messages API server. Point the SDK at
// BaseURL.
type AnthropicServer struct {
	// Server is the underlying test server; Close stops it.
	*httptest.Server

	opts    AnthropicOptions
	limiter *limiter
	faults  faultQueue
	seq     atomic.Int64
}

// NewAnthropicServer starts a fake Anthropic server on loopback. It answers
// POST /v1/messages and meters calls the way Anthropic documents
// (https://docs.anthropic.com/en/api/rate-limits): one request against RPM;
// input_tokens + cache_creation_input_tokens against ITPM at arrival, never
// given back (cache reads are free); max_tokens against OTPM at arrival,
// settled to the real output_tokens when the reply ends; and, when TPM is
// set, input + output against it with the same settle. Input is ceil(system
// and message characters / 4), output ceil(max_tokens x OutputFraction).
//
// It also answers POST /v1/messages/count_tokens with input_tokens = the
// same ceil(characters / 4), unmetered and counted in Stats.CountTokens
// only, as Anthropic keeps token counting apart from the Messages limits.
//
// Metered responses carry the anthropic-ratelimit-* headers of the limited
// dimensions with RFC 3339 reset times; every response carries request-id.
// A call that does not fit gets Anthropic's 429 rate_limit_error with
// retry-after. Call Close when done.
func NewAnthropicServer(opts AnthropicOptions) *AnthropicServer {
	s := &AnthropicServer{opts: opts, limiter: newLimiter(opts.Limits)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", s.handleMessages)
	mux.HandleFunc("POST /v1/messages/count_tokens", s.handleCountTokens)
	s.Server = newArrivalServer(mux)
	return s
}

// BaseURL is the URL to give the SDK (option.WithBaseURL): the server's
// URL, to which the SDK adds /v1/messages.
func (s *AnthropicServer) BaseURL() string { return s.URL }

// Inject makes the next requests fail with faults, one request each, in
// order. Injected faults skip the rate limiter (not the key check).
func (s *AnthropicServer) Inject(faults ...Fault) { s.faults.push(faults...) }

// Stats returns what the server has seen so far.
func (s *AnthropicServer) Stats() Stats { return s.limiter.snapshot() }

// Calls returns every call the server accepted, by arrival, with its final
// charge.
func (s *AnthropicServer) Calls() []Call { return s.limiter.record() }

// messagesRequest is the part of a Messages API request the fake reads.
type messagesRequest struct {
	Model     string `json:"model"`
	MaxTokens *int64 `json:"max_tokens"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	System json.RawMessage `json:"system"`
}

func (s *AnthropicServer) handleMessages(w http.ResponseWriter, r *http.Request) {
	s.limiter.count(func(st *Stats) { st.Requests++ })
	n := s.seq.Add(1)
	w.Header().Set("request-id", fmt.Sprintf("req_fake%d", n))
	if status, typ, msg := s.refusal(r); status != 0 {
		s.reject(w, status, typ, msg)
		return
	}
	if f, ok := s.faults.pop(); ok {
		s.limiter.count(func(st *Stats) { st.Injected++ })
		writeFault(w, r, f, writeAnthropicFault)
		return
	}
	var req messagesRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.reject(w, http.StatusBadRequest, "invalid_request_error", "There was an issue with the JSON body of your request.")
		return
	}
	if msg := req.invalid(); msg != "" {
		s.reject(w, http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	prompt := req.inputTokens()
	cacheRead := int64(math.Floor(float64(prompt) * min(max(s.opts.CacheReadFraction, 0), 1)))
	input := prompt - cacheRead
	maxTokens := *req.MaxTokens
	v := s.limiter.admit(Call{At: arrival(r), Tokens: input + maxTokens, InputTokens: input, OutputTokens: maxTokens})
	if !v.ok {
		setAnthropicLimitHeaders(w.Header(), s.limiter.limits, v)
		s.rateLimited(w, v)
		return
	}
	if s.opts.Latency > 0 {
		hang(r, Fault{Delay: s.opts.Latency})
	}
	output := outputTokens(maxTokens, s.opts.OutputFraction)
	v = s.limiter.settle(v.id, Call{Tokens: input + output, InputTokens: input, OutputTokens: output})
	setAnthropicLimitHeaders(w.Header(), s.limiter.limits, v)
	stop := "end_turn"
	if output == maxTokens {
		stop = "max_tokens"
	}
	s.limiter.count(func(st *Stats) { st.Completed++ })
	writeJSON(w, http.StatusOK, map[string]any{
		"id":            fmt.Sprintf("msg_fake%d", n),
		"type":          "message",
		"role":          "assistant",
		"model":         req.Model,
		"content":       []map[string]any{{"type": "text", "text": strings.TrimSpace(strings.Repeat("ok ", int(min(output, 64))))}},
		"stop_reason":   stop,
		"stop_sequence": nil,
		"usage": map[string]any{
			"input_tokens":                input,
			"output_tokens":               output,
			"cache_creation_input_tokens": 0,
			"cache_read_input_tokens":     cacheRead,
		},
	})
}

// handleCountTokens answers count_tokens. Injected faults are for the
// Messages calls a test exercises, so they are left in the queue.
func (s *AnthropicServer) handleCountTokens(w http.ResponseWriter, r *http.Request) {
	s.limiter.count(func(st *Stats) { st.CountTokens++ })
	w.Header().Set("request-id", fmt.Sprintf("req_fake%d", s.seq.Add(1)))
	if status, typ, msg := s.refusal(r); status != 0 {
		writeAnthropicError(w, status, typ, msg)
		return
	}
	var req messagesRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", "There was an issue with the JSON body of your request.")
		return
	}
	one := int64(1) // count_tokens takes no max_tokens
	req.MaxTokens = &one
	if msg := req.invalid(); msg != "" {
		writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"input_tokens": req.inputTokens()})
}

// refusal checks the key and the API version header every endpoint
// requires; it returns the error to answer, or a zero status.
func (s *AnthropicServer) refusal(r *http.Request) (status int, typ, message string) {
	key := s.opts.APIKey
	if key != "" && r.Header.Get("x-api-key") != key && r.Header.Get("Authorization") != "Bearer "+key {
		return http.StatusUnauthorized, "authentication_error", "invalid x-api-key"
	}
	if r.Header.Get("anthropic-version") == "" {
		return http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required"
	}
	return 0, "", ""
}

// inputTokens is the fake's count of the request's input: ceil(characters
// of the system prompt and the messages' text / 4).
func (req messagesRequest) inputTokens() int64 {
	chars := textChars(req.System)
	for _, m := range req.Messages {
		chars += textChars(m.Content)
	}
	return charsToTokens(chars)
}

// invalid returns the 400 message for a request the Messages API refuses,
// or "" when it is acceptable.
func (req messagesRequest) invalid() string {
	switch {
	case req.Model == "":
		return "model: Field required"
	case req.MaxTokens == nil:
		return "max_tokens: Field required"
	case *req.MaxTokens < 1:
		return "max_tokens: Input should be greater than or equal to 1"
	case len(req.Messages) == 0:
		return "messages: Field required"
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
	}
	return ""
}

func (s *AnthropicServer) reject(w http.ResponseWriter, status int, typ, message string) {
	s.limiter.count(func(st *Stats) { st.Rejected++ })
	writeAnthropicError(w, status, typ, message)
}
