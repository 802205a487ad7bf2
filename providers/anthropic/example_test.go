package anthropic_test

import (
	"context"
	"encoding/json"
	"fmt"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/anthropic"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// A Processor runs one Messages API request: the payload is the request
// body, the Result the message, its usage and the rate-limit headers. A
// BatchProcessor calls Process the same way.
func ExampleProcessor_Process() {
	srv := providertest.NewAnthropicServer(providertest.AnthropicOptions{
		Limits: providertest.Limits{ITPM: 50000, OTPM: 10000},
	})
	defer srv.Close()
	proc, err := anthropic.New(anthropic.WithAPIKey("sk-ant-example"), anthropic.WithBaseURL(srv.BaseURL()))
	if err != nil {
		panic(err)
	}

	payload, _ := json.Marshal(sdk.MessageNewParams{
		Model:     sdk.ModelClaudeHaiku4_5,
		MaxTokens: 40,
		Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("Reply with the single word ok."))},
	})
	est, _ := proc.EstimateUsage(payload)
	fmt.Printf("estimate: %d input, %d output\n", est.InputTokens, est.OutputTokens)

	res, err := proc.Process(context.Background(), &llmqueue.Job{ID: "example", Payload: payload, Attempt: 1})
	if err != nil {
		panic(err)
	}
	fmt.Printf("usage: %d input, %d output\n", res.Usage.InputTokens, res.Usage.OutputTokens)
	fmt.Printf("input tokens left: %d of %d\n", res.RateLimit.RemainingInputTokens, res.RateLimit.LimitInputTokens)
	// Output:
	// estimate: 8 input, 40 output
	// usage: 8 input, 40 output
	// input tokens left: 49992 of 50000
}
