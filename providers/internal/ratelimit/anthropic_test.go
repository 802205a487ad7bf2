package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
)

var anthropicNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestParseAnthropicReset(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"2025-01-02T03:04:35Z", 30 * time.Second, false},
		{"2025-01-02T03:04:05.250Z", 250 * time.Millisecond, false},
		{" 2025-01-02T04:04:05+01:00 ", 0, false}, // the same instant in another zone
		{"2025-01-02T03:05:05-00:00", time.Minute, false},
		{"2025-01-02T03:00:00Z", 0, false}, // in the past
		{"2025-01-04T03:04:05Z", MaxWait, false},
		{"9999-12-31T23:59:59Z", MaxWait, false},
		{"0000-01-01T00:00:00Z", 0, false},
		{"", 0, true},
		{"30", 0, true},
		{"6m0s", 0, true},
		{"Thu, 02 Jan 2025 03:05:05 GMT", 0, true},
		{"2025-01-02T03:04:35", 0, true}, // no zone
		{"2025-13-02T03:04:35Z", 0, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseAnthropicReset(c.in, anthropicNow)
			if c.err {
				require.Error(t, err)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestAnthropicInfo(t *testing.T) {
	full := http.Header{}
	for _, kv := range [][2]string{
		{"anthropic-ratelimit-requests-limit", "50"},
		{"anthropic-ratelimit-requests-remaining", "49"},
		{"anthropic-ratelimit-requests-reset", "2025-01-02T03:04:06Z"},
		{"anthropic-ratelimit-tokens-limit", "58000"},
		{"anthropic-ratelimit-tokens-remaining", "57000"},
		{"anthropic-ratelimit-tokens-reset", "2025-01-02T03:04:07Z"},
		{"anthropic-ratelimit-input-tokens-limit", "50000"},
		{"anthropic-ratelimit-input-tokens-remaining", "49500"},
		{"anthropic-ratelimit-input-tokens-reset", "2025-01-02T03:04:08Z"},
		{"anthropic-ratelimit-output-tokens-limit", "8000"},
		{"anthropic-ratelimit-output-tokens-remaining", "7500"},
		{"anthropic-ratelimit-output-tokens-reset", "2025-01-02T03:04:09Z"},
	} {
		full.Set(kv[0], kv[1])
	}
	cases := []struct {
		name   string
		header http.Header
		want   *llmqueue.RateLimitInfo
	}{
		{"none", http.Header{}, nil},
		{"only-unusable", http.Header{"Anthropic-Ratelimit-Tokens-Remaining": {"lots"}, "Anthropic-Ratelimit-Tokens-Reset": {"soon"}}, nil},
		{"openai-headers-are-not-anthropic", http.Header{"X-Ratelimit-Remaining-Tokens": {"5"}}, nil},
		{"all", full, &llmqueue.RateLimitInfo{
			LimitRequests: 50, RemainingRequests: 49, ResetRequests: time.Second,
			LimitTokens: 58000, RemainingTokens: 57000, ResetTokens: 2 * time.Second,
			LimitInputTokens: 50000, RemainingInputTokens: 49500, ResetInputTokens: 3 * time.Second,
			LimitOutputTokens: 8000, RemainingOutputTokens: 7500, ResetOutputTokens: 4 * time.Second,
		}},
		{"input-only", http.Header{
			"Anthropic-Ratelimit-Input-Tokens-Limit":     {"1000"},
			"Anthropic-Ratelimit-Input-Tokens-Remaining": {"0"},
		}, &llmqueue.RateLimitInfo{
			RemainingRequests: -1, RemainingTokens: -1, RemainingOutputTokens: -1,
			LimitInputTokens: 1000, RemainingInputTokens: 0,
		}},
		{"malformed-values-are-unknown", http.Header{
			"Anthropic-Ratelimit-Requests-Limit":     {"-5"},
			"Anthropic-Ratelimit-Requests-Remaining": {"NaN"},
			"Anthropic-Ratelimit-Requests-Reset":     {"2025-01-02T03:04:15Z"},
			"Anthropic-Ratelimit-Tokens-Remaining":   {"-3"},
		}, &llmqueue.RateLimitInfo{
			RemainingRequests: -1, ResetRequests: 10 * time.Second,
			RemainingTokens: -1, RemainingInputTokens: -1, RemainingOutputTokens: -1,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, AnthropicInfo(c.header, anthropicNow))
		})
	}
}

func TestAnthropicWait(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{"none", http.Header{}, 0, false},
		{"retry-after", http.Header{"Retry-After": {"12"}}, 12 * time.Second, true},
		{"retry-after-beats-reset", http.Header{
			"Retry-After": {"3"},
			"Anthropic-Ratelimit-Input-Tokens-Remaining": {"0"},
			"Anthropic-Ratelimit-Input-Tokens-Reset":     {"2025-01-02T03:05:05Z"},
		}, 3 * time.Second, true},
		{"exhausted-dimension", http.Header{
			"Anthropic-Ratelimit-Output-Tokens-Remaining": {"0"},
			"Anthropic-Ratelimit-Output-Tokens-Reset":     {"2025-01-02T03:04:25Z"},
			"Anthropic-Ratelimit-Requests-Remaining":      {"10"},
			"Anthropic-Ratelimit-Requests-Reset":          {"2025-01-02T03:05:05Z"},
		}, 20 * time.Second, true},
		{"latest-of-exhausted", http.Header{
			"Anthropic-Ratelimit-Output-Tokens-Remaining": {"0"},
			"Anthropic-Ratelimit-Output-Tokens-Reset":     {"2025-01-02T03:04:25Z"},
			"Anthropic-Ratelimit-Requests-Remaining":      {"0"},
			"Anthropic-Ratelimit-Requests-Reset":          {"2025-01-02T03:04:45Z"},
		}, 40 * time.Second, true},
		{"reset-without-exhaustion-is-no-wait", http.Header{
			"Anthropic-Ratelimit-Tokens-Remaining": {"100"},
			"Anthropic-Ratelimit-Tokens-Reset":     {"2025-01-02T03:04:25Z"},
		}, 0, false},
		{"malformed-retry-after-falls-through", http.Header{
			"Retry-After":                          {"soon"},
			"Anthropic-Ratelimit-Tokens-Remaining": {"0"},
			"Anthropic-Ratelimit-Tokens-Reset":     {"2025-01-02T03:04:06Z"},
		}, time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := AnthropicWait(c.header, anthropicNow)
			assert.Equal(t, c.ok, ok)
			assert.Equal(t, c.want, got)
		})
	}
}

func FuzzParseAnthropicReset(f *testing.F) {
	for _, s := range []string{
		"2025-01-02T03:04:35Z", "2025-01-02T03:04:05.250Z", "2025-01-02T04:04:05+01:00",
		"9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "", "30", "2025-02-30T00:00:00Z",
		"2025-01-02T03:04:05.9999999999999Z", "2025-01-02T24:00:00Z", "2025-01-02T03:04:05+99:99",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseAnthropicReset(s, anthropicNow)
		if d < 0 || d > MaxWait || (err != nil && d != 0) {
			t.Fatalf("ParseAnthropicReset(%q) = %v, %v", s, d, err)
		}
	})
}

func FuzzAnthropicInfo(f *testing.F) {
	f.Add("50", "0", "2025-01-02T03:04:35Z", "12", "x")
	f.Add("", "", "", "", "")
	f.Add("1e400", "-1", "9999-12-31T23:59:59Z", "1e400", "NaN")
	f.Add("9223372036854775807", "9223372036854775808", "0000-01-01T00:00:00Z", "-1", "Thu, 02 Jan 2025 03:05:05 GMT")
	f.Fuzz(func(t *testing.T, limit, remaining, reset, retryAfter, retryAfterMs string) {
		h := http.Header{}
		h.Set(HeaderRetryAfter, retryAfter)
		h.Set(HeaderRetryAfterMs, retryAfterMs)
		// Every dimension gets the same values, shifted so each one sees a
		// different combination.
		vals := []string{limit, remaining, reset}
		for i, dim := range []string{AnthropicRequests, AnthropicTokens, AnthropicInputTokens, AnthropicOutputTokens} {
			h.Set(AnthropicHeader(dim, "limit"), vals[i%3])
			h.Set(AnthropicHeader(dim, "remaining"), vals[(i+1)%3])
			h.Set(AnthropicHeader(dim, "reset"), vals[(i+2)%3])
		}
		if d, ok := AnthropicWait(h, anthropicNow); d < 0 || d > MaxWait || (!ok && d != 0) {
			t.Fatalf("AnthropicWait = %v, %v", d, ok)
		}
		info := AnthropicInfo(h, anthropicNow)
		if info == nil {
			return
		}
		for _, n := range []int64{info.LimitRequests, info.LimitTokens, info.LimitInputTokens, info.LimitOutputTokens} {
			if n < 0 {
				t.Fatalf("negative limit in %+v", info)
			}
		}
		for _, n := range []int64{info.RemainingRequests, info.RemainingTokens, info.RemainingInputTokens, info.RemainingOutputTokens} {
			if n < -1 {
				t.Fatalf("remaining below -1 in %+v", info)
			}
		}
		for _, d := range []time.Duration{info.ResetRequests, info.ResetTokens, info.ResetInputTokens, info.ResetOutputTokens} {
			if d < 0 || d > MaxWait {
				t.Fatalf("reset outside [0, MaxWait] in %+v", info)
			}
		}
	})
}
