package estimate

import (
	"math"
	"time"

	"github.com/llmqueue/llmqueue"
)

// SpeedProfile is how fast a model serves one request, for ProcessingTime.
// The zero value uses the defaults.
type SpeedProfile struct {
	// Latency is the fixed time of a call before any token is processed.
	// Zero means DefaultLatency; negative means none.
	Latency time.Duration
	// InputTokensPerSecond is how fast the model reads the prompt. Zero,
	// negative and non-finite values mean DefaultInputTokensPerSecond.
	InputTokensPerSecond float64
	// OutputTokensPerSecond is how fast the model writes one reply. Zero,
	// negative and non-finite values mean DefaultOutputTokensPerSecond.
	OutputTokensPerSecond float64
}

// SpeedProfile defaults, at the slow end of what large hosted models measure.
const (
	// DefaultLatency is the time to a short prompt's first token (0.2-2 s).
	DefaultLatency = time.Second
	// DefaultInputTokensPerSecond is the prefill speed (thousands per second).
	DefaultInputTokensPerSecond = 5000.0
	// DefaultOutputTokensPerSecond is the output speed (40-100 per second for
	// frontier models, 100-200 for small ones).
	DefaultOutputTokensPerSecond = 50.0
)

// withDefaults returns p's latency in seconds and its two speeds.
func (p SpeedProfile) withDefaults() (latency, in, out float64) {
	switch {
	case p.Latency == 0:
		latency = DefaultLatency.Seconds()
	case p.Latency > 0:
		latency = p.Latency.Seconds()
	}
	rate := func(r, def float64) float64 {
		if !(r > 0) || math.IsInf(r, 1) {
			return def
		}
		return r
	}
	return latency, rate(p.InputTokensPerSecond, DefaultInputTokensPerSecond),
		rate(p.OutputTokensPerSecond, DefaultOutputTokensPerSecond)
}

// ProcessingTime estimates one call, from sending to the end of the reply,
// as Latency + input / InputTokensPerSecond + output / OutputTokensPerSecond,
// where input is InputTokens + CacheCreationInputTokens and output is
// OutputTokens. With an estimator's Usage (output = max_tokens) it is an
// upper bound, fit for a timeout. Negative counts count as zero; the result
// is rounded to the millisecond and saturates at the largest Duration.
func ProcessingTime(u llmqueue.Usage, speed SpeedProfile) time.Duration {
	latency, inRate, outRate := speed.withDefaults()
	in := float64(max(u.InputTokens, 0)) + float64(max(u.CacheCreationInputTokens, 0))
	out := float64(max(u.OutputTokens, 0))
	return secondsToDuration(latency + in/inRate + out/outRate)
}

// DrainTime estimates how long b takes to admit a backlog of requests
// (their number) whose estimates add up to backlog: per limited dimension,
// its cost / the usable limit x (Window + 2%, or a day for TPD and RPD); the
// slowest wins. Costs are as reserved at arrival: input + output for TPM and
// TPD, input for ITPM, output for OTPM, requests for RPM and RPD. It is the
// steady rate with the ledger full, not counting the calls' own time; zero
// when nothing limits the backlog. Negative counts count as zero; the result
// is rounded to the millisecond and saturates at the largest Duration.
func DrainTime(b llmqueue.Budget, backlog llmqueue.Usage, requests int64) time.Duration {
	in, out := max(backlog.InputTokens, 0), max(backlog.OutputTokens, 0)
	requests = max(requests, 0)
	window := ledgerWindow(b).Seconds()
	day := (24 * time.Hour).Seconds()
	dims := []struct {
		cost, usable int64
		period       float64
	}{
		{addSat(in, out), b.UsableTokens(), window},
		{in, b.UsableInputTokens(), window},
		{out, b.UsableOutputTokens(), window},
		{requests, b.UsableRequests(), window},
		{addSat(in, out), b.UsableTokensPerDay(), day},
		{requests, b.UsableRequestsPerDay(), day},
	}
	var longest float64
	for _, d := range dims {
		if d.usable > 0 && d.cost > 0 {
			longest = max(longest, float64(d.cost)/float64(d.usable)*d.period)
		}
	}
	return secondsToDuration(longest)
}

// ledgerWindow is how long the queue keeps a reservation in its ledger:
// the Window (DefaultWindow when unset) plus 2%, as the root package does.
func ledgerWindow(b llmqueue.Budget) time.Duration {
	w := b.Window
	if w <= 0 {
		w = time.Minute
	}
	return w + w/50
}

// addSat adds two non-negative token counts, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// secondsToDuration rounds s to the millisecond, saturating at the largest
// Duration and treating NaN and negative values as zero.
func secondsToDuration(s float64) time.Duration {
	if !(s > 0) {
		return 0
	}
	ms := math.Round(s * 1e3)
	if ms >= float64(math.MaxInt64/int64(time.Millisecond)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ms) * time.Millisecond
}
