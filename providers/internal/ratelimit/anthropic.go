package ratelimit

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue"
)

// anthropicHeaderPrefix starts every Anthropic rate-limit header.
//
// Anthropic reports each of its limits in three headers,
// anthropic-ratelimit-<dimension>-limit, -remaining and -reset, where reset
// is an RFC 3339 timestamp (when the bucket is full again), not a duration
// like OpenAI's. The dimensions it sends on the Messages API:
//
//	requests       requests per minute (RPM)
//	tokens         the most restrictive token limit now in effect
//	input-tokens   input tokens per minute (ITPM)
//	output-tokens  output tokens per minute (OTPM)
const anthropicHeaderPrefix = "Anthropic-Ratelimit-"

// The Anthropic dimensions, as they appear in the header names.
const (
	// AnthropicRequests is requests per minute (RPM).
	AnthropicRequests = "requests"
	// AnthropicTokens is the most restrictive token limit now in effect.
	AnthropicTokens = "tokens"
	// AnthropicInputTokens is input tokens per minute (ITPM).
	AnthropicInputTokens = "input-tokens"
	// AnthropicOutputTokens is output tokens per minute (OTPM).
	AnthropicOutputTokens = "output-tokens"
)

// AnthropicHeader returns the canonical name of one Anthropic rate-limit
// header: AnthropicHeader(AnthropicInputTokens, "remaining") is
// "Anthropic-Ratelimit-Input-Tokens-Remaining".
func AnthropicHeader(dimension, field string) string {
	return http.CanonicalHeaderKey(anthropicHeaderPrefix + dimension + "-" + field)
}

// ParseAnthropicReset parses an anthropic-ratelimit-*-reset value, an RFC
// 3339 timestamp, into the time left until it, relative to now. A time in
// the past is zero; a time further away than MaxWait is MaxWait. Empty and
// malformed values are errors.
func ParseAnthropicReset(s string, now time.Time) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty reset time", errBadValue)
	}
	// time.RFC3339 also accepts a fractional second when parsing, which
	// Anthropic sometimes sends.
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%w: reset time %q: %w", errBadValue, s, err)
	}
	// Sub saturates instead of overflowing, so a year-9999 date is simply
	// far away.
	return min(max(t.Sub(now), 0), MaxWait), nil
}

// anthropicDimension is what the headers say about one dimension.
type anthropicDimension struct {
	limit     int64 // 0 when not said
	remaining int64 // -1 when not said
	reset     time.Duration
	resetOK   bool
}

// said reports whether any of the dimension's headers was usable.
func (d anthropicDimension) said() bool { return d.limit > 0 || d.remaining >= 0 || d.resetOK }

func readAnthropicDimension(h http.Header, dimension string, now time.Time) anthropicDimension {
	d := anthropicDimension{
		limit:     max(ParseCount(h.Get(AnthropicHeader(dimension, "limit"))), 0),
		remaining: ParseCount(h.Get(AnthropicHeader(dimension, "remaining"))),
	}
	if v := h.Get(AnthropicHeader(dimension, "reset")); v != "" {
		if r, err := ParseAnthropicReset(v, now); err == nil {
			d.reset, d.resetOK = r, true
		}
	}
	return d
}

// AnthropicInfo reads the anthropic-ratelimit-* headers of a response,
// with reset times taken relative to now. It returns nil when none of them
// is present or usable. A missing or malformed remaining count is -1
// (unknown), a missing limit 0 (not reported), a missing reset zero.
func AnthropicInfo(h http.Header, now time.Time) *llmqueue.RateLimitInfo {
	req := readAnthropicDimension(h, AnthropicRequests, now)
	tok := readAnthropicDimension(h, AnthropicTokens, now)
	in := readAnthropicDimension(h, AnthropicInputTokens, now)
	out := readAnthropicDimension(h, AnthropicOutputTokens, now)
	if !req.said() && !tok.said() && !in.said() && !out.said() {
		return nil
	}
	return &llmqueue.RateLimitInfo{
		LimitRequests:         req.limit,
		RemainingRequests:     req.remaining,
		ResetRequests:         req.reset,
		LimitTokens:           tok.limit,
		RemainingTokens:       tok.remaining,
		ResetTokens:           tok.reset,
		LimitInputTokens:      in.limit,
		RemainingInputTokens:  in.remaining,
		ResetInputTokens:      in.reset,
		LimitOutputTokens:     out.limit,
		RemainingOutputTokens: out.remaining,
		ResetOutputTokens:     out.reset,
	}
}

// AnthropicWait returns how long an Anthropic 429 asks the caller to wait,
// and whether it said anything usable: retry-after-ms or Retry-After when
// present (Anthropic sends Retry-After in seconds on every 429), else the
// latest reset among the dimensions whose remaining count is zero. A reset
// of a dimension that is not exhausted says when its bucket is full again,
// not when a call fits, so it is not a wait.
func AnthropicWait(h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := RetryAfter(h, now); ok {
		return d, true
	}
	var (
		wait  time.Duration
		found bool
	)
	for _, dim := range []string{AnthropicRequests, AnthropicTokens, AnthropicInputTokens, AnthropicOutputTokens} {
		if d := readAnthropicDimension(h, dim, now); d.remaining == 0 && d.resetOK {
			wait, found = max(wait, d.reset), true
		}
	}
	return wait, found
}
