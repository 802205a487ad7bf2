package providertest

import (
	"slices"
	"time"
)

// Call is one call a fake server accepted, as its limiter counted it: At is
// the arrival, which fixes when the call leaves the window, and the token
// counts are the final charge, after any settle. Each call also counts one
// request.
type Call struct {
	// At is when the call arrived.
	At time.Time
	// Tokens is the charge against the combined limit (TPM).
	Tokens int64
	// InputTokens is the charge against the input limit (ITPM).
	InputTokens int64
	// OutputTokens is the charge against the output limit (OTPM).
	OutputTokens int64
}

// BusiestWindow returns, for each token dimension, the most that any span
// [t, t+window) starting at a call's arrival held. Each dimension is
// maximised on its own, so they may come from different spans; At is the
// start of the busiest span for combined tokens (zero when calls is empty).
// Together with a server's Calls it tells a test how close to a limit the
// traffic ran, settles included.
func BusiestWindow(calls []Call, window time.Duration) Call {
	cs := slices.SortedStableFunc(slices.Values(calls), func(a, b Call) int { return a.At.Compare(b.At) })
	var best, sum Call
	end := 0
	for start, c := range cs {
		for end < len(cs) && cs[end].At.Before(c.At.Add(window)) {
			sum.Tokens += cs[end].Tokens
			sum.InputTokens += cs[end].InputTokens
			sum.OutputTokens += cs[end].OutputTokens
			end++
		}
		if start == 0 || sum.Tokens > best.Tokens {
			best.Tokens, best.At = sum.Tokens, c.At
		}
		best.InputTokens = max(best.InputTokens, sum.InputTokens)
		best.OutputTokens = max(best.OutputTokens, sum.OutputTokens)
		sum.Tokens -= cs[start].Tokens
		sum.InputTokens -= cs[start].InputTokens
		sum.OutputTokens -= cs[start].OutputTokens
	}
	return best
}

// Utilization is the share of a limit that the calls arriving in [from, to)
// used: the sum of dim over them divided by what the limit allows in that
// time, limit x (to - from) / window. 1 means the traffic ran exactly at
// the limit. It is 0 when the limit, the span or the window is not
// positive.
func Utilization(calls []Call, from, to time.Time, window time.Duration, limit int64, dim func(Call) int64) float64 {
	span := to.Sub(from)
	if limit <= 0 || span <= 0 || window <= 0 {
		return 0
	}
	var sum int64
	for _, c := range calls {
		if !c.At.Before(from) && c.At.Before(to) {
			sum += dim(c)
		}
	}
	return float64(sum) / (float64(limit) * float64(span) / float64(window))
}
