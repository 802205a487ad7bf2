// Package ratelimit reads what a provider says about its rate limits from
// HTTP response headers: how long to wait after a 429, and how much budget
// is left in the current window.
//
// The headers it understands:
//
//	retry-after-ms                  milliseconds, may be fractional ("1500", "20.5")
//	Retry-After                     seconds ("30") or an HTTP date
//	x-ratelimit-reset-tokens        time until the token limit resets ("6m0s", "1s", "20ms", "1h2m3.5s")
//	x-ratelimit-reset-requests      same, for the request limit
//	x-ratelimit-remaining-tokens    tokens left in the window
//	x-ratelimit-remaining-requests  requests left in the window
//	x-ratelimit-limit-tokens        the token limit of the window
//	x-ratelimit-limit-requests      the request limit of the window
//
// Every parser is total: a malformed value is an error or "not said", never
// a panic, and every wait it returns lies in [0, MaxWait].
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue"
)

// Header names, in canonical form.
const (
	HeaderRetryAfter        = "Retry-After"
	HeaderRetryAfterMs      = "Retry-After-Ms"
	HeaderResetTokens       = "X-Ratelimit-Reset-Tokens"
	HeaderResetRequests     = "X-Ratelimit-Reset-Requests"
	HeaderRemainingTokens   = "X-Ratelimit-Remaining-Tokens"
	HeaderRemainingRequests = "X-Ratelimit-Remaining-Requests"
	HeaderLimitTokens       = "X-Ratelimit-Limit-Tokens"
	HeaderLimitRequests     = "X-Ratelimit-Limit-Requests"
)

// MaxWait caps every wait read from a header, so a corrupt or hostile value
// cannot park a namespace for years.
const MaxWait = 24 * time.Hour

// errBadValue is wrapped by every parse error.
var errBadValue = errors.New("ratelimit: bad header value")

// ParseResetDuration parses an x-ratelimit-reset-* value. OpenAI sends Go
// style durations ("6m0s", "1s", "20ms", "1h2m3.5s"); some OpenAI-compatible
// servers send bare seconds ("1", "0.5"), which are accepted too. Negative,
// empty and malformed values are errors; a huge value is capped at MaxWait.
func ParseResetDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty duration", errBadValue)
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return fromUnits(secs, float64(time.Second))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		// An overflowing duration ("99999999h") is still a well-formed
		// "a very long time": cap it rather than refuse it.
		if isOverflow(s) {
			return MaxWait, nil
		}
		return 0, fmt.Errorf("%w: duration %q: %w", errBadValue, s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: negative duration %q", errBadValue, s)
	}
	return min(d, MaxWait), nil
}

// ParseRetryAfter parses a Retry-After value: delay seconds (RFC 9110; a
// fractional value is tolerated) or an HTTP date, taken relative to now. A
// date in the past means no wait.
func ParseRetryAfter(s string, now time.Time) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty Retry-After", errBadValue)
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return fromUnits(secs, float64(time.Second))
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return 0, fmt.Errorf("%w: Retry-After %q: %w", errBadValue, s, err)
	}
	d := t.Sub(now)
	if d < 0 {
		return 0, nil
	}
	return min(d, MaxWait), nil
}

// ParseRetryAfterMs parses a retry-after-ms value: milliseconds, possibly
// fractional.
func ParseRetryAfterMs(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	ms, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: retry-after-ms %q: %w", errBadValue, s, err)
	}
	return fromUnits(ms, float64(time.Millisecond))
}

// Wait returns how long the response asks the caller to wait before the
// next call, and whether it said anything usable. It tries, in order:
// retry-after-ms (the most precise), Retry-After, then the reset headers.
// Of the reset headers it takes the ones whose remaining count is zero (the
// limit that was hit), the longer if both are; when neither is known to be
// exhausted it takes x-ratelimit-reset-tokens, then -requests.
func Wait(h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := RetryAfter(h, now); ok {
		return d, true
	}
	resetTok, okTok := reset(h, HeaderResetTokens)
	resetReq, okReq := reset(h, HeaderResetRequests)
	outTok := okTok && remaining(h, HeaderRemainingTokens) == 0
	outReq := okReq && remaining(h, HeaderRemainingRequests) == 0
	switch {
	case outTok && outReq:
		return max(resetTok, resetReq), true
	case outTok:
		return resetTok, true
	case outReq:
		return resetReq, true
	case okTok:
		return resetTok, true
	case okReq:
		return resetReq, true
	}
	return 0, false
}

// RetryAfter returns the wait of the explicit retry headers only:
// retry-after-ms, then Retry-After. It suits failures other than rate
// limits (a 503 with Retry-After), where the x-ratelimit-reset-* headers
// that OpenAI puts on every response say nothing about when to retry.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get(HeaderRetryAfterMs); v != "" {
		if d, err := ParseRetryAfterMs(v); err == nil {
			return d, true
		}
	}
	if v := h.Get(HeaderRetryAfter); v != "" {
		if d, err := ParseRetryAfter(v, now); err == nil {
			return d, true
		}
	}
	return 0, false
}

// Info reads the x-ratelimit-limit-*, -remaining-* and -reset-* headers.
// It returns nil when none of them is present. A remaining count that is
// missing or malformed is -1 (unknown); a missing or malformed limit is 0
// (not stated, as llmqueue.RateLimitInfo reads it); a missing reset is zero.
func Info(h http.Header) *llmqueue.RateLimitInfo {
	info := &llmqueue.RateLimitInfo{
		RemainingTokens:   remaining(h, HeaderRemainingTokens),
		RemainingRequests: remaining(h, HeaderRemainingRequests),
		LimitTokens:       limit(h, HeaderLimitTokens),
		LimitRequests:     limit(h, HeaderLimitRequests),
	}
	var okTok, okReq bool
	info.ResetTokens, okTok = reset(h, HeaderResetTokens)
	info.ResetRequests, okReq = reset(h, HeaderResetRequests)
	if info.RemainingTokens < 0 && info.RemainingRequests < 0 && !okTok && !okReq &&
		info.LimitTokens == 0 && info.LimitRequests == 0 {
		return nil
	}
	return info
}

// ParseCount parses a remaining or limit count. It accepts integers and,
// leniently, non-negative decimals (rounded down); anything else is -1.
func ParseCount(s string) int64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return -1
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return -1
		}
		return n
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f >= math.MaxInt64 {
		return -1
	}
	return int64(f)
}

func remaining(h http.Header, name string) int64 { return ParseCount(h.Get(name)) }

// limit reads a limit header; RateLimitInfo spells "not stated" as 0, not -1.
func limit(h http.Header, name string) int64 { return max(ParseCount(h.Get(name)), 0) }

func reset(h http.Header, name string) (time.Duration, bool) {
	v := h.Get(name)
	if v == "" {
		return 0, false
	}
	d, err := ParseResetDuration(v)
	if err != nil {
		return 0, false
	}
	return d, true
}

// fromUnits converts n units of unit nanoseconds to a duration in
// [0, MaxWait], refusing NaN, infinities and negatives.
func fromUnits(n, unit float64) (time.Duration, error) {
	if math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
		return 0, fmt.Errorf("%w: %v", errBadValue, n)
	}
	ns := n * unit
	if ns >= float64(MaxWait) {
		return MaxWait, nil
	}
	return time.Duration(ns), nil
}

// isOverflow reports whether s is a well-formed positive Go duration that is
// merely too large for time.Duration: one or more <number><unit> groups,
// where a number is digits with at most one decimal point.
func isOverflow(s string) bool {
	rest := strings.TrimPrefix(s, "+")
	if rest == "" {
		return false
	}
	for rest != "" {
		digits, dots, i := 0, 0, 0
		for ; i < len(rest); i++ {
			c := rest[i]
			if c >= '0' && c <= '9' {
				digits++
			} else if c == '.' {
				dots++
			} else {
				break
			}
		}
		if digits == 0 || dots > 1 {
			return false
		}
		j := i
		for j < len(rest) && rest[j] != '.' && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		switch rest[i:j] {
		case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
		default:
			return false
		}
		rest = rest[j:]
	}
	return true
}
