package bedrock_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/bedrock"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// A Processor runs one Converse call: the payload is a bedrock.Payload,
// the Result the reply and its usage. Its MeterFor tells the queue the
// model's output burndown rate, so the ledger settles like Bedrock's quota.
func ExampleProcessor_Process() {
	srv := providertest.NewBedrockServer(providertest.BedrockOptions{
		Limits: providertest.Limits{TPM: 100_000},
	})
	defer srv.Close()
	proc, err := bedrock.New(context.Background(),
		bedrock.WithConfig(aws.Config{Region: providertest.TestRegion}),
		bedrock.WithCredentials(srv.Credentials()), bedrock.WithEndpoint(srv.URL))
	if err != nil {
		panic(err)
	}

	payload, _ := json.Marshal(bedrock.Payload{
		ModelID:   "anthropic.claude-3-7-sonnet-20250219-v1:0",
		MaxTokens: 50,
		Messages:  []bedrock.Message{{Role: "user", Content: bedrock.Content{{Text: "Say ok."}}}},
	})
	fmt.Printf("meter: %+v\n", proc.MeterFor(payload))
	res, err := proc.Process(context.Background(), &llmqueue.Job{ID: "example", Payload: payload, Attempt: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println("output tokens:", res.Usage.OutputTokens > 0)
	// Output:
	// meter: {OutputBurndown:5}
	// output tokens: true
}
