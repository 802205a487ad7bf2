package estimate_test

import (
	"math"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/estimate"
)

func TestProcessingTime(t *testing.T) {
	fast := estimate.SpeedProfile{Latency: 200 * time.Millisecond, InputTokensPerSecond: 10000, OutputTokensPerSecond: 100}
	tests := []struct {
		name  string
		usage llmqueue.Usage
		speed estimate.SpeedProfile
		want  time.Duration
	}{
		// Defaults: 1 s + input / 5,000/s + output / 50/s.
		{"nothing is the latency", llmqueue.Usage{}, estimate.SpeedProfile{}, time.Second},
		{"input is fast", llmqueue.Usage{InputTokens: 10000}, estimate.SpeedProfile{}, 3 * time.Second},
		{"output is slow", llmqueue.Usage{OutputTokens: 1000}, estimate.SpeedProfile{}, 21 * time.Second},
		{"both", llmqueue.Usage{InputTokens: 2000, OutputTokens: 500}, estimate.SpeedProfile{}, 11400 * time.Millisecond},
		{"cache writes are read", llmqueue.Usage{CacheCreationInputTokens: 5000}, estimate.SpeedProfile{}, 2 * time.Second},
		{"cache reads are skipped", llmqueue.Usage{CacheReadInputTokens: 1_000_000}, estimate.SpeedProfile{}, time.Second},
		{"calibrated", llmqueue.Usage{InputTokens: 2000, OutputTokens: 500}, fast, 5400 * time.Millisecond},
		{"negative latency means none", llmqueue.Usage{OutputTokens: 50}, estimate.SpeedProfile{Latency: -1}, time.Second},
		{"bad speeds mean the defaults", llmqueue.Usage{InputTokens: 5000, OutputTokens: 50},
			estimate.SpeedProfile{InputTokensPerSecond: math.NaN(), OutputTokensPerSecond: -3}, 3 * time.Second},
		{"infinite speeds mean the defaults", llmqueue.Usage{InputTokens: 5000, OutputTokens: 50},
			estimate.SpeedProfile{InputTokensPerSecond: math.Inf(1), OutputTokensPerSecond: math.Inf(-1)}, 3 * time.Second},
		{"negative counts are zero", llmqueue.Usage{InputTokens: -5000, OutputTokens: -50, CacheCreationInputTokens: -1}, estimate.SpeedProfile{}, time.Second},
		{"rounded to the millisecond", llmqueue.Usage{OutputTokens: 1}, estimate.SpeedProfile{Latency: -1, OutputTokensPerSecond: 3}, 333 * time.Millisecond},
		{"saturates", llmqueue.Usage{OutputTokens: math.MaxInt64}, estimate.SpeedProfile{OutputTokensPerSecond: 1e-300}, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := estimate.ProcessingTime(tt.usage, tt.speed); got != tt.want {
				t.Errorf("ProcessingTime(%+v, %+v) = %v; want %v", tt.usage, tt.speed, got, tt.want)
			}
		})
	}
}

// Doubling the reply nearly doubles a call; doubling the prompt barely
// moves it.
func TestProcessingTime_OutputDominates(t *testing.T) {
	base := llmqueue.Usage{InputTokens: 4000, OutputTokens: 800}
	t0 := estimate.ProcessingTime(base, estimate.SpeedProfile{})
	moreIn := estimate.ProcessingTime(llmqueue.Usage{InputTokens: 8000, OutputTokens: 800}, estimate.SpeedProfile{})
	moreOut := estimate.ProcessingTime(llmqueue.Usage{InputTokens: 4000, OutputTokens: 1600}, estimate.SpeedProfile{})
	if grow := float64(moreIn-t0) / float64(t0); grow > 0.05 {
		t.Errorf("doubling the input grew %v to %v (%.0f%%); want under 5%%", t0, moreIn, grow*100)
	}
	if grow := float64(moreOut-t0) / float64(t0); grow < 0.8 {
		t.Errorf("doubling the output grew %v to %v (%.0f%%); want over 80%%", t0, moreOut, grow*100)
	}
}

func TestDrainTime(t *testing.T) {
	noBuffer := -1.0
	minute := time.Minute + time.Minute/50 // a reservation is held Window + 2%
	tests := []struct {
		name     string
		budget   llmqueue.Budget
		backlog  llmqueue.Usage
		requests int64
		want     time.Duration
	}{
		{"no limits", llmqueue.Budget{}, llmqueue.Usage{InputTokens: 1e9}, 1e6, 0},
		{"empty backlog", llmqueue.Budget{TPM: 100_000}, llmqueue.Usage{}, 0, 0},
		// 450,000 / 90,000 usable = 5 windows of 61.2 s.
		{"TPM with the default buffer", llmqueue.Budget{TPM: 100_000},
			llmqueue.Usage{InputTokens: 250_000, OutputTokens: 200_000}, 0, 5 * minute},
		{"TPM without a buffer", llmqueue.Budget{TPM: 100_000, SafetyBufferPercent: noBuffer},
			llmqueue.Usage{InputTokens: 50_000}, 0, minute / 2},
		{"a window of 10 s", llmqueue.Budget{TPM: 1000, SafetyBufferPercent: noBuffer, Window: 10 * time.Second},
			llmqueue.Usage{InputTokens: 3000}, 0, 3 * (10*time.Second + 200*time.Millisecond)},
		{"allocation share", llmqueue.Budget{TPM: 100_000, SafetyBufferPercent: noBuffer, APIAllocationPercent: 50},
			llmqueue.Usage{InputTokens: 100_000}, 0, 2 * minute},
		// Anthropic: output binds when replies are long.
		{"OTPM binds", llmqueue.Budget{ITPM: 100_000, OTPM: 20_000, SafetyBufferPercent: noBuffer},
			llmqueue.Usage{InputTokens: 100_000, OutputTokens: 60_000}, 0, 3 * minute},
		{"ITPM binds", llmqueue.Budget{ITPM: 100_000, OTPM: 20_000, SafetyBufferPercent: noBuffer},
			llmqueue.Usage{InputTokens: 400_000, OutputTokens: 20_000}, 0, 4 * minute},
		{"RPM binds", llmqueue.Budget{TPM: 1_000_000, RPM: 100, SafetyBufferPercent: noBuffer},
			llmqueue.Usage{InputTokens: 100_000}, 1000, 10 * minute},
		{"no request count leaves RPM out", llmqueue.Budget{TPM: 1_000_000, RPM: 100, SafetyBufferPercent: noBuffer},
			llmqueue.Usage{InputTokens: 100_000}, 0, minute / 10},
		{"TPD binds", llmqueue.Budget{TPM: 1_000_000, TPD: 2_000_000, SafetyBufferPercent: noBuffer},
			llmqueue.Usage{InputTokens: 3_000_000}, 0, 36 * time.Hour},
		{"RPD binds", llmqueue.Budget{RPD: 1000, SafetyBufferPercent: noBuffer},
			llmqueue.Usage{}, 500, 12 * time.Hour},
		{"negative counts are zero", llmqueue.Budget{TPM: 100, RPM: 1},
			llmqueue.Usage{InputTokens: -1, OutputTokens: -1}, -1, 0},
		{"saturates", llmqueue.Budget{TPM: 1}, llmqueue.Usage{InputTokens: math.MaxInt64, OutputTokens: math.MaxInt64}, 0, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := estimate.DrainTime(tt.budget, tt.backlog, tt.requests); got != tt.want {
				t.Errorf("DrainTime(%+v, %d) under %v = %v; want %v", tt.backlog, tt.requests, tt.budget, got, tt.want)
			}
		})
	}
}
