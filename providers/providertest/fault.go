package providertest

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// FaultKind is a class of provider failure a fake server can produce. Each
// server renders it in its own wire format; the comments give each.
type FaultKind int

// The fault kinds.
const (
	// FaultRateLimit: OpenAI 429 rate_limit_exceeded; Bedrock 429
	// ThrottlingException; Anthropic 429 rate_limit_error, with
	// "retry-after: 1" unless the fault sets headers of its own.
	FaultRateLimit FaultKind = iota + 1
	// FaultQuota: OpenAI 429 insufficient_quota (billing); Bedrock 400
	// ServiceQuotaExceededException; Anthropic, which has no quota error,
	// 400 invalid_request_error "Your credit balance is too low ...".
	FaultQuota
	// FaultAuth: OpenAI 401 invalid_api_key; Bedrock 403
	// AccessDeniedException; Anthropic 401 authentication_error.
	FaultAuth
	// FaultBadRequest: OpenAI 400 invalid_request_error; Bedrock 400
	// ValidationException; Anthropic 400 invalid_request_error.
	FaultBadRequest
	// FaultNotFound: OpenAI 404 model_not_found; Bedrock 404
	// ResourceNotFoundException; Anthropic 404 not_found_error.
	FaultNotFound
	// FaultServer: OpenAI 500 server_error; Bedrock 500
	// InternalServerException; Anthropic 500 api_error.
	FaultServer
	// FaultUnavailable: OpenAI 503; Bedrock 503 ServiceUnavailableException;
	// Anthropic 529 overloaded_error.
	FaultUnavailable
	// FaultModelTimeout: OpenAI 408; Bedrock 408 ModelTimeoutException;
	// Anthropic 504 timeout_error.
	FaultModelTimeout
	// FaultNotJSON: a 502 whose body is an HTML page, as a proxy in front of
	// the provider sends.
	FaultNotJSON
	// FaultHang: no answer for Fault.Delay (or until the client gives up),
	// to exercise per-call timeouts.
	FaultHang
	// FaultDisconnect: the connection is closed without a response.
	FaultDisconnect
	// FaultCustom: Fault.Status with Fault.Code as the error code (OpenAI
	// "code"; Bedrock X-Amzn-ErrorType; Anthropic error "type"), for cases
	// the kinds above miss.
	FaultCustom
)

// String names the kind.
func (k FaultKind) String() string {
	names := map[FaultKind]string{
		FaultRateLimit: "rate-limit", FaultQuota: "quota", FaultAuth: "auth",
		FaultBadRequest: "bad-request", FaultNotFound: "not-found", FaultServer: "server",
		FaultUnavailable: "unavailable", FaultModelTimeout: "model-timeout",
		FaultNotJSON: "not-json", FaultHang: "hang", FaultDisconnect: "disconnect",
		FaultCustom: "custom",
	}
	if n, ok := names[k]; ok {
		return n
	}
	return "unknown"
}

// Fault is one failure a fake server returns instead of a completion.
type Fault struct {
	// Kind is the class of failure.
	Kind FaultKind
	// Message replaces the provider's default error message.
	Message string
	// Header is added to the error response, for example Retry-After,
	// retry-after-ms or x-ratelimit-reset-tokens.
	Header http.Header
	// Status is FaultCustom's HTTP status.
	Status int
	// Code is FaultCustom's error code: OpenAI's "code" field, Bedrock's
	// X-Amzn-ErrorType, Anthropic's error "type" (api_error when empty).
	Code string
	// Delay is how long FaultHang waits before it gives up and answers 504.
	// Defaults to 30 seconds.
	Delay time.Duration
}

// faultQueue hands out injected faults in order.
type faultQueue struct {
	mu     sync.Mutex
	faults []Fault
}

func (q *faultQueue) push(f ...Fault) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.faults = append(q.faults, f...)
}

func (q *faultQueue) pop() (Fault, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.faults) == 0 {
		return Fault{}, false
	}
	f := q.faults[0]
	q.faults = q.faults[1:]
	return f, true
}

// writeFault writes an injected fault: its extra headers, then either a
// failure that looks the same from every provider (a gateway's HTML page,
// a dropped connection) or, through writeError, the provider's own error
// response for f.Kind. A hang waits before that response.
func writeFault(w http.ResponseWriter, r *http.Request, f Fault, writeError func(http.ResponseWriter, Fault)) {
	copyHeader(w.Header(), f.Header)
	switch f.Kind {
	case FaultNotJSON:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		return
	case FaultDisconnect:
		disconnect(w)
		return
	case FaultHang:
		hang(r, f)
	}
	writeError(w, f)
}

// messageOr returns the fault's message, or def when it sets none.
func (f Fault) messageOr(def string) string {
	if f.Message != "" {
		return f.Message
	}
	return def
}

// hang blocks for the fault's delay or until the client goes away. It reads
// the rest of the body first: only then does the server watch the
// connection and cancel r's context when the client hangs up.
func hang(r *http.Request, f Fault) {
	_, _ = io.Copy(io.Discard, r.Body)
	d := f.Delay
	if d <= 0 {
		d = 30 * time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// disconnect closes the client connection without writing a response.
func disconnect(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// copyHeader adds every value of src to dst.
func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}
