package llmqueue

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Sentinel errors of CheckEstimate, for errors.Is.
var (
	// ErrEstimateTooLow means a caller's estimate is below what the
	// payload's input alone costs. The queue would reserve less than the
	// provider charges when the call arrives, admit more than the provider
	// accepts, and meet 429s.
	ErrEstimateTooLow = errors.New("estimate too low")
	// ErrEstimateTooHigh means a caller's estimate is more than
	// EstimateHighRatio times what the estimator computes the provider
	// charges for the payload at arrival.
	// It is safe but holds budget idle, so the queue runs well below the
	// provider's limit.
	ErrEstimateTooHigh = errors.New("estimate too high")
)

// EstimateHighRatio is the ratio of a caller's estimate to the computed
// reservation (input + output allowance) above which CheckEstimate reports
// EstimateTooHigh. At twice the reservation, at least half of what the
// estimate holds is never charged by the provider: under OpenAIMeter that
// half stays idle for a whole window, under the others until the call
// ends. It is where the Python package's habit of multiplying max_tokens
// by 3-5 lands once max_tokens is most of the request. Payloads whose
// input the heuristic cannot see (images, audio, tool definitions, dense
// scripts such as CJK) can legitimately exceed it: check those with an
// Estimator that counts them, or read EstimateCheck.Ratio yourself.
const EstimateHighRatio = 2.0

// EstimateVerdict is CheckEstimate's judgement of a caller's estimate.
type EstimateVerdict int

// The verdicts, from the caller's estimate E and the computed usage
// (input I, output allowance O):
const (
	// EstimateUnchecked is the zero value: no check was made (the check
	// failed on its input).
	EstimateUnchecked EstimateVerdict = iota
	// EstimateOK: I + O <= E <= EstimateHighRatio x (I + O).
	EstimateOK
	// EstimateLow: I <= E < I + O. The estimate covers the input but not
	// the output allowance, which OpenAI, Bedrock and Anthropic (OTPM) all
	// charge when the call arrives, so bursts may meet 429s. Fine for a
	// server metered on real usage (ExactMeter); otherwise include
	// max_tokens. Not an error.
	EstimateLow
	// EstimateTooLow: E < I. CheckEstimate returns ErrEstimateTooLow.
	EstimateTooLow
	// EstimateTooHigh: E > EstimateHighRatio x (I + O). CheckEstimate
	// returns ErrEstimateTooHigh.
	EstimateTooHigh
)

// String returns "ok", "low", "too low", "too high" or "unchecked".
func (v EstimateVerdict) String() string {
	switch v {
	case EstimateOK:
		return "ok"
	case EstimateLow:
		return "low"
	case EstimateTooLow:
		return "too low"
	case EstimateTooHigh:
		return "too high"
	case EstimateUnchecked:
		return "unchecked"
	}
	return fmt.Sprintf("EstimateVerdict(%d)", int(v))
}

// EstimateCheck is what CheckEstimate found.
type EstimateCheck struct {
	// Estimate is the caller's estimate, as given.
	Estimate int64
	// Computed is the estimator's usage for the payload: InputTokens the
	// prompt, OutputTokens the output allowance (max_tokens x n, or the
	// estimator's default). An Estimator that does not implement
	// UsageEstimator reports its whole estimate as input.
	Computed Usage
	// Ratio is Estimate / Computed.Total(): 1 when the caller reserves
	// exactly what the estimator would. When Computed.Total() is 0 it is 1
	// for an estimate of 0 and +Inf otherwise.
	Ratio float64
	// Verdict judges Estimate against Computed (see EstimateVerdict).
	Verdict EstimateVerdict
}

// CheckEstimate checks a caller's token estimate for payload, such as one
// given to WithEstimatedTokens or carried over from the Python package,
// against what estimator computes for the payload; a nil estimator means
// HeuristicEstimator{}. Pass the estimator the queue uses (a provider
// adapter such as *openai.Processor is one) to compare with what the queue
// would reserve. QueueManager.Add does not call it: call it before Add, or
// in a test over sample payloads.
//
// The danger is an estimate below what the provider charges when the call
// arrives: the queue then admits more than the provider accepts, and calls
// meet 429s. Every provider charges at least the input, so an estimate
// below the computed input returns an error matching ErrEstimateTooLow;
// one that covers the input but not the output allowance is reported as
// EstimateLow without an error. An estimate above EstimateHighRatio x the
// computed total wastes budget and returns an error matching
// ErrEstimateTooHigh. With either error the EstimateCheck is complete, so
// a caller may log it and go on.
//
// A negative estimate is an error matching ErrInvalidTokens. A payload
// that is not valid JSON, or that the estimator refuses, is an error
// matching ErrInvalidPayload (or the estimator's own error); the check is
// then EstimateUnchecked. CheckEstimate calls the estimator once and never
// panics on its own; it is safe for concurrent use when the estimator is.
func CheckEstimate(payload json.RawMessage, estimate int64, estimator Estimator) (EstimateCheck, error) {
	check := EstimateCheck{Estimate: estimate}
	if estimate < 0 {
		return check, fmt.Errorf("llmqueue: check estimate: %w: %d is negative", ErrInvalidTokens, estimate)
	}
	if !json.Valid(payload) {
		return check, fmt.Errorf("llmqueue: check estimate: %w: not valid JSON", ErrInvalidPayload)
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
		check.Verdict = EstimateTooLow
		return check, fmt.Errorf("llmqueue: check estimate: %w: %d tokens < %d input tokens the payload costs alone",
			ErrEstimateTooLow, estimate, computed.InputTokens)
	case estimate < total:
		check.Verdict = EstimateLow
	case check.Ratio > EstimateHighRatio:
		check.Verdict = EstimateTooHigh
		return check, fmt.Errorf("llmqueue: check estimate: %w: %d tokens is %.1fx the %d computed (at most %gx)",
			ErrEstimateTooHigh, estimate, check.Ratio, total, EstimateHighRatio)
	default:
		check.Verdict = EstimateOK
	}
	return check, nil
}

// estimateUsage asks e (HeuristicEstimator{} when nil) for payload's usage,
// split when e implements UsageEstimator, as QueueManager.Add does. Counts
// are capped at MaxTokens; a negative count is an error matching
// ErrInvalidTokens, as it is for Add.
func estimateUsage(e Estimator, payload json.RawMessage) (Usage, error) {
	if e == nil {
		e = HeuristicEstimator{}
	}
	var u Usage
	if ue, ok := e.(UsageEstimator); ok {
		got, err := ue.EstimateUsage(payload)
		if err != nil {
			return Usage{}, fmt.Errorf("estimate: %w", err)
		}
		u = Usage{InputTokens: got.InputTokens, OutputTokens: got.OutputTokens}
	} else {
		n, err := e.EstimateTokens(payload)
		if err != nil {
			return Usage{}, fmt.Errorf("estimate: %w", err)
		}
		u = Usage{InputTokens: n}
	}
	if u.InputTokens < 0 || u.OutputTokens < 0 {
		return Usage{}, fmt.Errorf("%w: estimator returned %d input and %d output tokens",
			ErrInvalidTokens, u.InputTokens, u.OutputTokens)
	}
	u.InputTokens, u.OutputTokens = min(u.InputTokens, MaxTokens), min(u.OutputTokens, MaxTokens)
	return u, nil
}
