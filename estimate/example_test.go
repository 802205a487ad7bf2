package estimate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/estimate"
)

func ExampleProcessingTime() {
	payload := json.RawMessage(`{
		"model": "gpt-4o",
		"messages": [{"role": "user", "content": "Summarise the attached report in five bullet points."}],
		"max_tokens": 400
	}`)
	est, err := llmqueue.HeuristicEstimator{}.EstimateUsage(payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The estimate's output is max_tokens, so this is the longest the call
	// should take: a timeout. With the defaults: 1 s + 13 input tokens at
	// 5,000/s + 400 output tokens at 50/s.
	fmt.Println("worst case, defaults:", estimate.ProcessingTime(est, estimate.SpeedProfile{}))

	// Calibrated for a faster model, and for the 150 output tokens replies
	// use on average: a typical time.
	fast := estimate.SpeedProfile{Latency: 400 * time.Millisecond, OutputTokensPerSecond: 100}
	typical := llmqueue.Usage{InputTokens: est.InputTokens, OutputTokens: 150}
	fmt.Println("typical, calibrated:", estimate.ProcessingTime(typical, fast))
	// Output:
	// worst case, defaults: 9.003s
	// typical, calibrated: 1.903s
}

func ExampleDrainTime() {
	budget := llmqueue.Budget{TPM: 100_000} // 90,000 usable: the default 10% buffer
	// 300 queued requests of about 1,000 input tokens and 500 max_tokens.
	backlog := llmqueue.Usage{InputTokens: 300 * 1000, OutputTokens: 300 * 500}
	fmt.Println(estimate.DrainTime(budget, backlog, 300))
	// Output: 5m6s
}

func ExampleCheck() {
	payload := json.RawMessage(`{
		"model": "gpt-4o",
		"messages": [{"role": "user", "content": "Translate 'good morning' into French, German and Italian."}],
		"max_tokens": 200
	}`)
	// The heuristic computes 15 input tokens + 200 output tokens.
	for _, tokens := range []int64{
		215, // input + max_tokens: what the provider charges at arrival
		15,  // the input only: max_tokens is charged at arrival too
		10,  // less than the input
		815, // the Python package's input + max_tokens x 4
	} {
		check, err := estimate.Check(payload, tokens, nil)
		switch {
		case errors.Is(err, estimate.ErrTooLow):
			fmt.Printf("%d: %v, risks 429s\n", tokens, check.Verdict)
		case errors.Is(err, estimate.ErrTooHigh):
			fmt.Printf("%d: %v, %.1fx what the provider charges\n", tokens, check.Verdict, check.Ratio)
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Printf("%d: %v\n", tokens, check.Verdict)
		}
	}
	// Output:
	// 215: ok
	// 15: low
	// 10: too low, risks 429s
	// 815: too high, 3.8x what the provider charges
}
