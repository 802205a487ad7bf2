package estimate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/llmqueue/llmqueue"
)

// Sentinel errors of Check, for errors.Is.
var (
	// ErrTooLow means an estimate is below the payload's input alone: the
	// queue would admit more than the provider accepts, and meet 429s.
	ErrTooLow = errors.New("estimate too low")
	// ErrTooHigh means an estimate is above HighRatio x the computed
	// reservation: safe, but it holds budget idle.
	ErrTooHigh = errors.New("estimate too high")
)

// HighRatio is the ratio of an estimate to the computed reservation (input
// + output allowance) above which Check reports TooHigh. Payloads whose
// input the heuristic cannot see (images, tools, CJK) may exceed it.
const HighRatio = 2.0

// Verdict is Check's judgement of a caller's estimate.
type Verdict int

// The verdicts, from the caller's estimate E and the computed usage
// (input I, output allowance O):
const (
	// Unchecked is the zero value: the check failed on its input.
	Unchecked Verdict = iota
	// OK: I + O <= E <= HighRatio x (I + O).
	OK
	// Low: I <= E < I + O. Not an error, but providers that charge the
	// output allowance at arrival (OpenAI, Bedrock, Anthropic OTPM) may
	// answer bursts with 429s; fine under llmqueue.ExactMeter.
	Low
	// TooLow: E < I. Check returns ErrTooLow.
	TooLow
	// TooHigh: E > HighRatio x (I + O). Check returns ErrTooHigh.
	TooHigh
)

// String returns "ok", "low", "too low", "too high" or "unchecked".
func (v Verdict) String() string {
	switch v {
	case OK:
		return "ok"
	case Low:
		return "low"
	case TooLow:
		return "too low"
	case TooHigh:
		return "too high"
	case Unchecked:
		return "unchecked"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Result is what Check found.
type Result struct {
	// Estimate is the caller's estimate, as given.
	Estimate int64
	// Computed is the estimator's usage: the prompt as InputTokens, the
	// output allowance as OutputTokens (all input without UsageEstimator).
	Computed llmqueue.Usage
	// Ratio is Estimate / Computed.Total(); when the total is 0, 1 for an
	// estimate of 0 and +Inf otherwise.
	Ratio float64
	// Verdict judges Estimate against Computed.
	Verdict Verdict
}

// Check judges a caller's token estimate for payload (one given to
// llmqueue.WithEstimatedTokens, say) against what estimator computes, as
// QueueManager.Add would; nil means llmqueue.HeuristicEstimator{}. TooLow
// and TooHigh return ErrTooLow and ErrTooHigh with a complete Result.
// A negative estimate matches llmqueue.ErrInvalidTokens; invalid JSON
// matches llmqueue.ErrInvalidPayload, leaving the Result Unchecked.
func Check(payload json.RawMessage, estimate int64, estimator llmqueue.Estimator) (Result, error) {
	check := Result{Estimate: estimate}
	if estimate < 0 {
		return check, fmt.Errorf("llmqueue: check estimate: %w: %d is negative", llmqueue.ErrInvalidTokens, estimate)
	}
	if !json.Valid(payload) {
		return check, fmt.Errorf("llmqueue: check estimate: %w: not valid JSON", llmqueue.ErrInvalidPayload)
	}
	computed, err := estimateUsage(estimator, payload)
	if err != nil {
		return check, fmt.Errorf("llmqueue: check estimate: %w", err)
	}
	check.Computed = computed
	total := computed.Total()
	switch {
	case total > 0:
		check.Ratio = float64(estimate) / float64(total)
	case estimate == 0:
		check.Ratio = 1
	default:
		check.Ratio = math.Inf(1)
	}
	switch {
	case estimate < computed.InputTokens:
		check.Verdict = TooLow
		return check, fmt.Errorf("llmqueue: check estimate: %w: %d tokens < %d input tokens the payload costs alone",
			ErrTooLow, estimate, computed.InputTokens)
	case estimate < total:
		check.Verdict = Low
	case check.Ratio > HighRatio:
		check.Verdict = TooHigh
		return check, fmt.Errorf("llmqueue: check estimate: %w: %d tokens is %.1fx the %d computed (at most %gx)",
			ErrTooHigh, estimate, check.Ratio, total, HighRatio)
	default:
		check.Verdict = OK
	}
	return check, nil
}

// estimateUsage asks e (HeuristicEstimator{} when nil) for payload's usage,
// split when e implements UsageEstimator, as QueueManager.Add does. Counts
// are capped at MaxTokens; a negative count is an error matching
// ErrInvalidTokens, as it is for Add.
func estimateUsage(e llmqueue.Estimator, payload json.RawMessage) (llmqueue.Usage, error) {
	if e == nil {
		e = llmqueue.HeuristicEstimator{}
	}
	var u llmqueue.Usage
	if ue, ok := e.(llmqueue.UsageEstimator); ok {
		got, err := ue.EstimateUsage(payload)
		if err != nil {
			return llmqueue.Usage{}, fmt.Errorf("estimate: %w", err)
		}
		u = llmqueue.Usage{InputTokens: got.InputTokens, OutputTokens: got.OutputTokens}
	} else {
		n, err := e.EstimateTokens(payload)
		if err != nil {
			return llmqueue.Usage{}, fmt.Errorf("estimate: %w", err)
		}
		u = llmqueue.Usage{InputTokens: n}
	}
	if u.InputTokens < 0 || u.OutputTokens < 0 {
		return llmqueue.Usage{}, fmt.Errorf("%w: estimator returned %d input and %d output tokens",
			llmqueue.ErrInvalidTokens, u.InputTokens, u.OutputTokens)
	}
	u.InputTokens, u.OutputTokens = min(u.InputTokens, llmqueue.MaxTokens), min(u.OutputTokens, llmqueue.MaxTokens)
	return u, nil
}
