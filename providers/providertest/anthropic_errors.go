package providertest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// anthropicDims names each dimension the way Anthropic's headers
// (anthropic-ratelimit-<name>-*) and 429 messages do.
var anthropicDims = [numDims]struct{ header, message string }{
	dimTokens:   {"tokens", "tokens"},
	dimInput:    {"input-tokens", "input tokens"},
	dimOutput:   {"output-tokens", "output tokens"},
	dimRequests: {"requests", "requests"},
}

// setAnthropicLimitHeaders writes anthropic-ratelimit-*-limit, -remaining
// and -reset for every limited dimension. The tokens-* headers report TPM
// when it is set; otherwise, as Anthropic does, whichever of the input and
// output limits is the most restrictive right now.
func setAnthropicLimitHeaders(h http.Header, l Limits, v verdict) {
	caps := l.caps()
	now := time.Now()
	put := func(name string, d dim) {
		h.Set("anthropic-ratelimit-"+name+"-limit", strconv.FormatInt(caps[d], 10))
		h.Set("anthropic-ratelimit-"+name+"-remaining", strconv.FormatInt(v.remaining[d], 10))
		h.Set("anthropic-ratelimit-"+name+"-reset", resetTime(now, v.reset[d]))
	}
	for d := range numDims {
		if caps[d] > 0 {
			put(anthropicDims[d].header, d)
		}
	}
	if caps[dimTokens] > 0 {
		return
	}
	tightest := dim(-1)
	for _, d := range []dim{dimInput, dimOutput} {
		if caps[d] > 0 && (tightest < 0 || v.remaining[d] < v.remaining[tightest]) {
			tightest = d
		}
	}
	if tightest >= 0 {
		put(anthropicDims[dimTokens].header, tightest)
	}
}

// resetTime is now + after as RFC 3339, rounded up to the second so a
// client that waits for it never retries early.
func resetTime(now time.Time, after time.Duration) string {
	return now.Add(after).Add(time.Second - 1).UTC().Truncate(time.Second).Format(time.RFC3339)
}

// rateLimited writes Anthropic's 429 for a call the window cannot take,
// naming the dimension that refused it.
func (s *AnthropicServer) rateLimited(w http.ResponseWriter, v verdict) {
	secs := max(1, int64((v.wait+time.Second-1)/time.Second))
	w.Header().Set("retry-after", strconv.FormatInt(secs, 10))
	msg := fmt.Sprintf("This request would exceed the rate limit for your organization (fake-org) of %d %s per minute. "+
		"For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. "+
		"Please reduce the prompt length or the maximum tokens requested, or try again later.",
		s.limiter.limits.caps()[v.limit], anthropicDims[v.limit].message)
	writeAnthropicError(w, http.StatusTooManyRequests, "rate_limit_error", msg)
}

// writeAnthropicFault writes an injected fault as Anthropic's error
// response; writeFault has already handled the faults that are not an error
// body.
func writeAnthropicFault(w http.ResponseWriter, f Fault) {
	msg := f.messageOr
	switch f.Kind {
	case FaultRateLimit:
		if len(f.Header) == 0 { // Anthropic's 429s always say when to retry
			w.Header().Set("retry-after", "1")
		}
		writeAnthropicError(w, http.StatusTooManyRequests, "rate_limit_error", msg("Number of request tokens has exceeded your per-minute rate limit."))
	case FaultQuota: // Anthropic has no quota error: billing is a 400.
		writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", msg("Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."))
	case FaultAuth:
		writeAnthropicError(w, http.StatusUnauthorized, "authentication_error", msg("invalid x-api-key"))
	case FaultBadRequest:
		writeAnthropicError(w, http.StatusBadRequest, "invalid_request_error", msg("temperature: Input should be less than or equal to 1"))
	case FaultNotFound:
		writeAnthropicError(w, http.StatusNotFound, "not_found_error", msg("model: claude-nope"))
	case FaultServer:
		writeAnthropicError(w, http.StatusInternalServerError, "api_error", msg("Internal server error"))
	case FaultUnavailable:
		writeAnthropicError(w, 529, "overloaded_error", msg("Overloaded"))
	case FaultModelTimeout:
		writeAnthropicError(w, http.StatusGatewayTimeout, "timeout_error", msg("Request timed out"))
	case FaultHang: // the client waited f.Delay for this
		writeAnthropicError(w, http.StatusGatewayTimeout, "timeout_error", msg("Gateway timeout."))
	case FaultCustom:
		typ := f.Code
		if typ == "" {
			typ = "api_error"
		}
		writeAnthropicError(w, f.Status, typ, msg("custom fault"))
	default:
		writeAnthropicError(w, http.StatusInternalServerError, "api_error", msg("unknown fault "+f.Kind.String()))
	}
}

// writeAnthropicError writes Anthropic's error body:
// {"type":"error","error":{"type":…,"message":…},"request_id":…}.
func writeAnthropicError(w http.ResponseWriter, status int, typ, message string) {
	writeJSON(w, status, map[string]any{
		"type":       "error",
		"error":      map[string]any{"type": typ, "message": message},
		"request_id": w.Header().Get("request-id"),
	})
}
