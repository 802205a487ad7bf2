package ratelimit

import (
	"net/http"
	"testing"
	"time"
)

// resetSeeds are the seed corpus of FuzzParseResetDuration: every form seen
// from OpenAI and compatible servers, plus the edges of the parser.
var resetSeeds = []string{
	"6m0s", "1s", "20ms", "1h2m3.5s", "7.66s", "0s", "30", "0.5", "", "-1s",
	"1e309", "NaN", "+Inf", "99999999999999999999h", "1.2.3s", "5µs", "1h1h",
	".5s", "5.s", "+", "1", "00000000000000000000000000001s",
}

func FuzzParseResetDuration(f *testing.F) {
	for _, s := range resetSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseResetDuration(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("ParseResetDuration(%q) = %v with error %v", s, d, err)
			}
			return
		}
		if d < 0 || d > MaxWait {
			t.Fatalf("ParseResetDuration(%q) = %v, outside [0, %v]", s, d, MaxWait)
		}
	})
}

func FuzzWait(f *testing.F) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Add("250", "3", "9s", "1s", "0", "10")
	f.Add("", "Thu, 02 Jan 2025 03:05:05 GMT", "", "", "", "")
	f.Add("NaN", "-1", "6m0s", "20ms", "x", "-3")
	f.Add("1e400", "1e400", "99999999999h", "1h2m3.5s", "1e300", "0")
	f.Fuzz(func(t *testing.T, ms, ra, resetTok, resetReq, remTok, remReq string) {
		h := http.Header{}
		h.Set(HeaderRetryAfterMs, ms)
		h.Set(HeaderRetryAfter, ra)
		h.Set(HeaderResetTokens, resetTok)
		h.Set(HeaderResetRequests, resetReq)
		h.Set(HeaderRemainingTokens, remTok)
		h.Set(HeaderRemainingRequests, remReq)
		// The limits parse like the remaining counts; reusing those inputs
		// covers them without changing the fuzz signature.
		h.Set(HeaderLimitTokens, remTok)
		h.Set(HeaderLimitRequests, remReq)
		d, ok := Wait(h, now)
		if d < 0 || d > MaxWait || (!ok && d != 0) {
			t.Fatalf("Wait = %v, %v", d, ok)
		}
		if info := Info(h); info != nil {
			if info.RemainingTokens < -1 || info.RemainingRequests < -1 ||
				info.ResetTokens < 0 || info.ResetTokens > MaxWait ||
				info.ResetRequests < 0 || info.ResetRequests > MaxWait ||
				info.LimitTokens < 0 || info.LimitRequests < 0 {
				t.Fatalf("Info = %+v", info)
			}
		}
	})
}
