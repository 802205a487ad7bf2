package openai_test

import (
	"context"
	"encoding/json"
	"fmt"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/openai"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// A Processor runs one chat completion: the payload is a
// go-openai ChatCompletionRequest, the Result the response, its usage and
// OpenAI's x-ratelimit-* headers. It is also the namespace's Estimator and
// Validator, so Add reserves what OpenAI's limiter will count.
func ExampleProcessor_Process() {
	srv := providertest.NewOpenAIServer(providertest.OpenAIOptions{
		Limits: providertest.Limits{TPM: 100_000},
		APIKey: "sk-example",
	})
	defer srv.Close()
	proc, err := openai.New(openai.WithAPIKey("sk-example"), openai.WithBaseURL(srv.BaseURL()))
	if err != nil {
		panic(err)
	}

	payload, _ := json.Marshal(goopenai.ChatCompletionRequest{
		Model:     goopenai.GPT4oMini,
		MaxTokens: 20,
		Messages:  []goopenai.ChatCompletionMessage{{Role: goopenai.ChatMessageRoleUser, Content: "Say ok."}},
	})
	est, _ := proc.EstimateUsage(payload)
	fmt.Printf("estimate: %d input + %d output allowance\n", est.InputTokens, est.OutputTokens)

	res, err := proc.Process(context.Background(), &llmqueue.Job{ID: "example", Payload: payload, Attempt: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println("limit reported:", res.RateLimit.LimitTokens)
	// Output:
	// estimate: 10 input + 20 output allowance
	// limit reported: 100000
}
