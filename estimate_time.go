package llmqueue

import (
	"math"
	"time"
)

// SpeedProfile says how fast a model serves one request, for
// EstimateProcessingTime. A call takes three kinds of time, at very
// different rates:
//
//   - a fixed latency: the round trip, TLS, the provider's own queueing
//     and scheduling, before any token is processed;
//   - the input (prefill): the model reads the whole prompt in parallel,
//     thousands of tokens per second;
//   - the output (decode): the model writes the reply one token at a time,
//     tens to about a hundred tokens per second for one request.
//
// Output therefore dominates: halving the reply roughly halves a long
// call, halving the prompt saves a few percent. OpenAI's "Latency
// optimization" guide explains why generating fewer tokens saves far more
// time than sending fewer input tokens:
// https://platform.openai.com/docs/guides/latency-optimization
//
// The defaults describe a large hosted model on a normal day and lean
// slow, so an estimate made with them is more often long than short.
// Speeds differ tenfold between models and hosts and change with load, so
// calibrate: time a few real calls, or read the provider's dashboards, and
// set the three fields.
//
// The zero value uses the defaults.
type SpeedProfile struct {
	// Latency is the fixed time of one call before any token is
	// processed. Zero means DefaultSpeedLatency; negative means none.
	Latency time.Duration
	// InputTokensPerSecond is how fast the model reads the prompt. Zero,
	// negative and non-finite values mean DefaultInputTokensPerSecond.
	InputTokensPerSecond float64
	// OutputTokensPerSecond is how fast the model writes one reply. Zero,
	// negative and non-finite values mean DefaultOutputTokensPerSecond.
	OutputTokensPerSecond float64
}

// SpeedProfile defaults, chosen toward the slow end of what hosted models
// measure, so that a timeout or an ETA built on them is seldom too short.
//
// Public measurements at the time of writing (the providers' latency
// guides; independent leaderboards such as Artificial Analysis,
// https://artificialanalysis.ai, which keep timing each hosted model's
// first token and output speed) put:
//
//   - the first token of a short prompt at 0.2-2 s (DefaultSpeedLatency, 1 s);
//   - prefill at thousands of tokens per second: a 100,000-token prompt
//     adds seconds to tens of seconds before the first token
//     (DefaultInputTokensPerSecond, 5,000);
//   - output at about 40-100 tokens per second for frontier models (GPT-4o,
//     GPT-4.1, Claude Sonnet and Opus), 100-200 for small ones (mini,
//     Haiku, Flash), and beyond 1,000 on specialised hardware
//     (DefaultOutputTokensPerSecond, 50).
const (
	DefaultSpeedLatency          = time.Second
	DefaultInputTokensPerSecond  = 5000.0
	DefaultOutputTokensPerSecond = 50.0
)

// withDefaults returns p's latency in seconds and its two speeds.
func (p SpeedProfile) withDefaults() (latency, in, out float64) {
	switch {
	case p.Latency == 0:
		latency = DefaultSpeedLatency.Seconds()
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

// EstimateProcessingTime estimates how long one call with this usage
// takes, from sending it to the end of the reply:
//
//	Latency + input / InputTokensPerSecond + output / OutputTokensPerSecond
//
// where input is InputTokens + CacheCreationInputTokens (cache reads skip
// most of the prefill and are left out) and output is OutputTokens. A
// zero speed profile uses the defaults (see SpeedProfile). The result is
// rounded to the millisecond, never negative (negative counts count as
// zero), and saturates at the largest Duration.
//
// What the result means depends on the usage given. An estimator's Usage
// carries the output allowance (max_tokens) as OutputTokens, so the result
// is the time of a reply that uses all of it: an upper bound, useful for a
// timeout. For a typical time pass the output you expect, for example the
// average of the usage your processor reports. Reasoning models write
// hidden reasoning tokens before the answer; they are output tokens, and
// count in max_completion_tokens and in the reported usage.
//
// The time is the provider's alone: waiting in the queue for budget comes
// on top (see Budget.DrainTime).
func EstimateProcessingTime(u Usage, speed SpeedProfile) time.Duration {
	latency, inRate, outRate := speed.withDefaults()
	in := float64(max(u.InputTokens, 0)) + float64(max(u.CacheCreationInputTokens, 0))
	out := float64(max(u.OutputTokens, 0))
	return secondsToDuration(latency + in/inRate + out/outRate)
}

// DrainTime estimates how long the budget takes to admit a backlog: queued
// requests whose estimates add up to backlog, requests of them. It is the
// steady rate the usable limits allow: for each limited dimension, what
// the backlog costs in it divided by the usable limit, times the time a
// reservation stays in the ledger (Window + 2%, see Budget; a day for TPD
// and RPD). The slowest dimension wins; a dimension without a limit never
// does. The dimensions cost as a Meter reserves at arrival: TPM and TPD
// input + output, ITPM input, OTPM output, RPM and RPD one per request
// (requests 0 leaves them out).
//
// For example, 450,000 tokens under TPM 100,000 with the default 10%
// buffer drain at 90,000 per 61.2 s: 5m6s.
//
// It is an estimate of the budget's share of the wait, with these limits:
//
//   - it is the steady rate with the ledger full, as when a backlog has
//     been waiting; after an idle spell the first Window's worth starts at
//     once, so subtract up to one Window;
//   - it counts what the backlog reserves. Meters that settle to the real
//     usage (Bedrock, Anthropic's output, ExactMeter) give unused output
//     back when a call ends, which drains faster; Bedrock's output
//     burndown (x5 for recent Claude models) charges more, which drains
//     slower: add (burndown - 1) x the expected output to backlog;
//   - calls also take time: with c calls at once the queue cannot finish
//     sooner than the backlog's processing time / c (see
//     EstimateProcessingTime), whichever is longer.
//
// Negative counts count as zero; the result is rounded to the millisecond
// and saturates at the largest Duration. It is zero when nothing limits
// the backlog.
func (b Budget) DrainTime(backlog Usage, requests int64) time.Duration {
	in, out := max(backlog.InputTokens, 0), max(backlog.OutputTokens, 0)
	requests = max(requests, 0)
	window := b.ledgerWindow().Seconds()
	day := (24 * time.Hour).Seconds()
	dims := []struct {
		cost, usable int64
		period       float64
	}{
		{addTokensSat(in, out), b.UsableTokens(), window},
		{in, b.UsableInputTokens(), window},
		{out, b.UsableOutputTokens(), window},
		{requests, b.UsableRequests(), window},
		{addTokensSat(in, out), b.UsableTokensPerDay(), day},
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
