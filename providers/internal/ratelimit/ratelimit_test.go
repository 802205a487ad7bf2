package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseResetDuration_AcceptsOpenAIForms(t *testing.T) {
	cases := map[string]time.Duration{
		"6m0s":       6 * time.Minute,
		"1s":         time.Second,
		"20ms":       20 * time.Millisecond,
		"1h2m3.5s":   time.Hour + 2*time.Minute + 3500*time.Millisecond,
		"7.66s":      7660 * time.Millisecond,
		"2m59.56s":   2*time.Minute + 59560*time.Millisecond,
		"0s":         0,
		" 1s ":       time.Second,
		"30":         30 * time.Second,
		"0.5":        500 * time.Millisecond,
		"99999999h":  MaxWait,
		"48h":        MaxWait,
		"1e9":        MaxWait,
		"+3s":        3 * time.Second,
		"1500us":     1500 * time.Microsecond,
		"1h1h":       2 * time.Hour,
		"2562048h":   MaxWait, // overflows time.Duration
		"9223372036": MaxWait,
	}
	for in, want := range cases {
		got, err := ParseResetDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

func TestParseResetDuration_RejectsMalformed(t *testing.T) {
	for _, in := range []string{"", " ", "-1s", "-5", "abc", "1x", "NaN", "Inf", "-Inf", "1.2.3s", "s", ".s", "1s-", "--1s"} {
		_, err := ParseResetDuration(in)
		assert.Error(t, err, "%q", in)
	}
}

func TestParseRetryAfter_SecondsAndHTTPDate(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	d, err := ParseRetryAfter("30", now)
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, d)

	d, err = ParseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now)
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, d)

	d, err = ParseRetryAfter(now.Add(-time.Hour).Format(http.TimeFormat), now)
	require.NoError(t, err)
	assert.Zero(t, d, "a date in the past means no wait")

	d, err = ParseRetryAfter(now.Add(30*24*time.Hour).Format(http.TimeFormat), now)
	require.NoError(t, err)
	assert.Equal(t, MaxWait, d)

	for _, bad := range []string{"", "soon", "-3", "Mon, 99 Foo 2025"} {
		_, err := ParseRetryAfter(bad, now)
		assert.Error(t, err, bad)
	}
}

func TestParseRetryAfterMs(t *testing.T) {
	d, err := ParseRetryAfterMs("1500")
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, d)
	d, err = ParseRetryAfterMs("20.5")
	require.NoError(t, err)
	assert.Equal(t, 20500*time.Microsecond, d)
	_, err = ParseRetryAfterMs("x")
	assert.Error(t, err)
	_, err = ParseRetryAfterMs("-1")
	assert.Error(t, err)
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestWait_PrefersMostPreciseHeader(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name string
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{"none", hdr(), 0, false},
		{"retry-after-ms wins", hdr("retry-after-ms", "250", "Retry-After", "3", "x-ratelimit-reset-tokens", "9s"), 250 * time.Millisecond, true},
		{"retry-after seconds", hdr("Retry-After", "3", "x-ratelimit-reset-tokens", "9s"), 3 * time.Second, true},
		{"bad ms falls through", hdr("retry-after-ms", "x", "Retry-After", "2"), 2 * time.Second, true},
		{"reset tokens", hdr("x-ratelimit-reset-tokens", "1.5s"), 1500 * time.Millisecond, true},
		{"reset requests", hdr("x-ratelimit-reset-requests", "20ms"), 20 * time.Millisecond, true},
		{"tokens when neither exhausted", hdr("x-ratelimit-reset-tokens", "2s", "x-ratelimit-reset-requests", "6m0s"), 2 * time.Second, true},
		{"exhausted requests", hdr("x-ratelimit-reset-tokens", "2s", "x-ratelimit-reset-requests", "6m0s", "x-ratelimit-remaining-requests", "0", "x-ratelimit-remaining-tokens", "100"), 6 * time.Minute, true},
		{"exhausted tokens", hdr("x-ratelimit-reset-tokens", "2s", "x-ratelimit-reset-requests", "6m0s", "x-ratelimit-remaining-requests", "5", "x-ratelimit-remaining-tokens", "0"), 2 * time.Second, true},
		{"both exhausted takes longer", hdr("x-ratelimit-reset-tokens", "2s", "x-ratelimit-reset-requests", "3s", "x-ratelimit-remaining-requests", "0", "x-ratelimit-remaining-tokens", "0"), 3 * time.Second, true},
		{"malformed everything", hdr("retry-after-ms", "?", "Retry-After", "?", "x-ratelimit-reset-tokens", "?"), 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Wait(c.h, now)
			assert.Equal(t, c.ok, ok)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestRetryAfter_IgnoresResetHeaders(t *testing.T) {
	_, ok := RetryAfter(hdr("x-ratelimit-reset-tokens", "9s"), time.Now())
	assert.False(t, ok)
	d, ok := RetryAfter(hdr("Retry-After", "2", "x-ratelimit-reset-tokens", "9s"), time.Now())
	assert.True(t, ok)
	assert.Equal(t, 2*time.Second, d)
}

func TestInfo_ReadsRemainingAndReset(t *testing.T) {
	assert.Nil(t, Info(hdr()))
	assert.Nil(t, Info(hdr("Content-Type", "application/json")))

	info := Info(hdr(
		"x-ratelimit-remaining-tokens", "149984",
		"x-ratelimit-remaining-requests", "59",
		"x-ratelimit-reset-tokens", "6ms",
		"x-ratelimit-reset-requests", "1s",
	))
	require.NotNil(t, info)
	assert.Equal(t, int64(149984), info.RemainingTokens)
	assert.Equal(t, int64(59), info.RemainingRequests)
	assert.Equal(t, 6*time.Millisecond, info.ResetTokens)
	assert.Equal(t, time.Second, info.ResetRequests)

	info = Info(hdr("x-ratelimit-remaining-tokens", "0"))
	require.NotNil(t, info)
	assert.Equal(t, int64(0), info.RemainingTokens)
	assert.Equal(t, int64(-1), info.RemainingRequests, "unknown is -1")
}

func TestInfo_ReadsLimits(t *testing.T) {
	cases := []struct {
		name                string
		h                   http.Header
		nilInfo             bool
		limitTok, limitReq  int64
		remainTok, remainRq int64
	}{
		{"both limits and remaining", hdr("x-ratelimit-limit-tokens", "150000", "x-ratelimit-limit-requests", "60",
			"x-ratelimit-remaining-tokens", "149984", "x-ratelimit-remaining-requests", "59"), false, 150000, 60, 149984, 59},
		{"limits alone are worth reporting", hdr("x-ratelimit-limit-tokens", "30000"), false, 30000, 0, -1, -1},
		{"malformed limit is not stated", hdr("x-ratelimit-limit-tokens", "lots", "x-ratelimit-remaining-tokens", "7"), false, 0, 0, 7, -1},
		{"negative limit is not stated", hdr("x-ratelimit-limit-requests", "-5", "x-ratelimit-remaining-requests", "1"), false, 0, 0, -1, 1},
		{"only malformed limits", hdr("x-ratelimit-limit-tokens", "x", "x-ratelimit-limit-requests", ""), true, 0, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := Info(c.h)
			if c.nilInfo {
				assert.Nil(t, info)
				return
			}
			require.NotNil(t, info)
			assert.Equal(t, c.limitTok, info.LimitTokens)
			assert.Equal(t, c.limitReq, info.LimitRequests)
			assert.Equal(t, c.remainTok, info.RemainingTokens)
			assert.Equal(t, c.remainRq, info.RemainingRequests)
		})
	}
}

func TestParseCount(t *testing.T) {
	assert.Equal(t, int64(12), ParseCount("12"))
	assert.Equal(t, int64(12), ParseCount(" 12.9 "))
	for _, bad := range []string{"", "-1", "x", "NaN", "1e300", "-0.5"} {
		assert.Equal(t, int64(-1), ParseCount(bad), bad)
	}
	assert.Equal(t, int64(0), ParseCount("0"))
}
