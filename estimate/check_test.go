package estimate_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/estimate"
	"github.com/llmqueue/llmqueue/tiktoken"
)

// checkPayload costs 100 input tokens (400 characters / 4) and 200 output
// tokens (max_tokens) under the heuristic: 300 in all.
var checkPayload = json.RawMessage(`{"model":"gpt-4o","messages":[{"role":"user","content":"` +
	strings.Repeat("abcd", 100) + `"}],"max_tokens":200}`)

func TestCheck_Verdicts(t *testing.T) {
	computed := llmqueue.Usage{InputTokens: 100, OutputTokens: 200}
	tests := []struct {
		name     string
		estimate int64
		verdict  estimate.Verdict
		wantErr  error
		ratio    float64
	}{
		{"zero is below the input", 0, estimate.TooLow, estimate.ErrTooLow, 0},
		{"below the input", 99, estimate.TooLow, estimate.ErrTooLow, 0.33},
		{"the input alone", 100, estimate.Low, nil, 0.33},
		{"input and part of the allowance", 299, estimate.Low, nil, 1.0},
		{"exactly the reservation", 300, estimate.OK, nil, 1},
		{"twice the reservation", 600, estimate.OK, nil, 2},
		{"just over twice", 601, estimate.TooHigh, estimate.ErrTooHigh, 2.0},
		// The Python estimator: input + max_tokens x 4 (its default
		// multiplier), 100 + 800.
		{"python multiplier", 900, estimate.TooHigh, estimate.ErrTooHigh, 3},
		{"max int64", math.MaxInt64, estimate.TooHigh, estimate.ErrTooHigh, math.MaxInt64 / 300.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := estimate.Check(checkPayload, tt.estimate, nil)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			if got.Verdict != tt.verdict || got.Estimate != tt.estimate || got.Computed != computed {
				t.Errorf("check = %+v; want verdict %v, estimate %d, computed %+v", got, tt.verdict, tt.estimate, computed)
			}
			if math.Abs(got.Ratio-tt.ratio) > 0.01*tt.ratio+0.01 {
				t.Errorf("ratio = %v; want about %v", got.Ratio, tt.ratio)
			}
		})
	}
}

// A caller's estimate is measured against what the given estimator
// computes, split the way the queue splits it.
func TestCheck_Estimators(t *testing.T) {
	tests := []struct {
		name     string
		est      llmqueue.Estimator
		payload  string
		estimate int64
		computed llmqueue.Usage
		verdict  estimate.Verdict
	}{
		{"nil is the heuristic", nil, `{"prompt":"abcdefgh","max_tokens":10}`, 12,
			llmqueue.Usage{InputTokens: 2, OutputTokens: 10}, estimate.OK},
		{"heuristic default allowance", llmqueue.HeuristicEstimator{}, `{"prompt":"abcdefgh"}`, 500,
			llmqueue.Usage{InputTokens: 2, OutputTokens: llmqueue.DefaultOutputAllowance}, estimate.Low},
		{"anthropic shape", nil, `{"model":"claude-sonnet-4-5","system":"abcd","messages":[{"role":"user","content":[{"type":"text","text":"abcdefgh"}]}],"max_tokens":1000}`, 1003,
			llmqueue.Usage{InputTokens: 3, OutputTokens: 1000}, estimate.OK},
		{"bedrock converse", nil, `{"modelId":"m","messages":[{"role":"user","content":[{"text":"abcd"}]}],"inferenceConfig":{"maxTokens":300}}`, 301,
			llmqueue.Usage{InputTokens: 1, OutputTokens: 300}, estimate.OK},
		{"tiktoken", tiktoken.NewEstimator(), `{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}],"max_tokens":50}`, 59,
			llmqueue.Usage{InputTokens: 9, OutputTokens: 50}, estimate.OK},
		{"tiktoken, estimate without max_tokens", tiktoken.NewEstimator(), `{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}],"max_tokens":50}`, 9,
			llmqueue.Usage{InputTokens: 9, OutputTokens: 50}, estimate.Low},
		// Without UsageEstimator the whole estimate is input, as for Add.
		{"plain estimator", totalEstimator(500), `{}`, 499,
			llmqueue.Usage{InputTokens: 500}, estimate.TooLow},
		{"plain estimator ok", totalEstimator(500), `{}`, 500,
			llmqueue.Usage{InputTokens: 500}, estimate.OK},
		{"capped at MaxTokens", totalEstimator(math.MaxInt64), `{}`, llmqueue.MaxTokens,
			llmqueue.Usage{InputTokens: llmqueue.MaxTokens}, estimate.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := estimate.Check(json.RawMessage(tt.payload), tt.estimate, tt.est)
			if got.Computed != tt.computed || got.Verdict != tt.verdict {
				t.Errorf("check = %+v, %v; want computed %+v, verdict %v", got, err, tt.computed, tt.verdict)
			}
			if wantErr := tt.verdict == estimate.TooLow || tt.verdict == estimate.TooHigh; wantErr != (err != nil) {
				t.Errorf("err = %v with verdict %v", err, got.Verdict)
			}
		})
	}
}

// Bad input is an error matching the package's sentinels, never a panic,
// and the check says it did not judge anything.
func TestCheck_BadInput(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		payload  string
		estimate int64
		est      llmqueue.Estimator
		want     error
	}{
		{"truncated JSON", `{"prompt":`, 100, nil, llmqueue.ErrInvalidPayload},
		{"empty payload", ``, 100, nil, llmqueue.ErrInvalidPayload},
		{"not JSON", `hello`, 100, nil, llmqueue.ErrInvalidPayload},
		{"trailing garbage", `{} {}`, 100, nil, llmqueue.ErrInvalidPayload},
		{"invalid JSON with a plain estimator", `{`, 100, totalEstimator(1), llmqueue.ErrInvalidPayload},
		{"negative estimate", `{}`, -1, nil, llmqueue.ErrInvalidTokens},
		{"estimator refuses the payload", `{"messages":"x"}`, 100, tiktoken.NewEstimator(), llmqueue.ErrInvalidPayload},
		{"estimator fails", `{}`, 100, failingEstimator{errBoom}, errBoom},
		{"estimator answers negative", `{}`, 100, totalEstimator(-5), llmqueue.ErrInvalidTokens},
		{"usage estimator answers negative", `{}`, 100, negativeUsage{}, llmqueue.ErrInvalidTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := estimate.Check(json.RawMessage(tt.payload), tt.estimate, tt.est)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
			if got.Verdict != estimate.Unchecked || got.Computed != (llmqueue.Usage{}) || got.Estimate != tt.estimate {
				t.Errorf("check = %+v; want unchecked", got)
			}
		})
	}
}

func TestCheck_NothingComputed(t *testing.T) {
	zero := totalEstimator(0)
	got, err := estimate.Check(json.RawMessage(`{}`), 0, zero)
	if err != nil || got.Verdict != estimate.OK || got.Ratio != 1 {
		t.Errorf("estimate 0 of 0: %+v, %v; want ok, ratio 1", got, err)
	}
	got, err = estimate.Check(json.RawMessage(`{}`), 1, zero)
	if !errors.Is(err, estimate.ErrTooHigh) || !math.IsInf(got.Ratio, 1) {
		t.Errorf("estimate 1 of 0: %+v, %v; want too high, ratio +Inf", got, err)
	}
}

func TestVerdict_String(t *testing.T) {
	for v, want := range map[estimate.Verdict]string{
		estimate.Unchecked: "unchecked", estimate.OK: "ok", estimate.Low: "low",
		estimate.TooLow: "too low", estimate.TooHigh: "too high", 42: "Verdict(42)",
	} {
		if got := v.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int(v), got, want)
		}
	}
}

// totalEstimator estimates every payload at n tokens and does not split.
type totalEstimator int64

func (f totalEstimator) EstimateTokens(json.RawMessage) (int64, error) { return int64(f), nil }

type failingEstimator struct{ err error }

func (f failingEstimator) EstimateTokens(json.RawMessage) (int64, error) { return 0, f.err }

type negativeUsage struct{}

func (negativeUsage) EstimateTokens(json.RawMessage) (int64, error) { return 1, nil }
func (negativeUsage) EstimateUsage(json.RawMessage) (llmqueue.Usage, error) {
	return llmqueue.Usage{InputTokens: 10, OutputTokens: -20}, nil
}
