// Package meterrun runs one worker process of the meter acceptance tests
// (providers/meter_accept_test.go): a BatchProcessor on a provider's real
// adapter, pointed at a fake server. The tests build its command
// (meterrun/worker) without the race detector, so 8 worker processes on a
// 2-core machine run at the speed users' workers do; the tests themselves
// still run with it.
package meterrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/redis/go-redis/v9"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/anthropic"
	"github.com/llmqueue/llmqueue/providers/bedrock"
	"github.com/llmqueue/llmqueue/providers/openai"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// Env holds the worker's Spec, as JSON.
const Env = "LLMQUEUE_METER_WORKER"

// Spec is what one worker process runs.
type Spec struct {
	Provider    string          `json:"provider"` // openai | bedrock | anthropic
	RedisURL    string          `json:"redis_url"`
	Namespace   string          `json:"namespace"`
	BaseURL     string          `json:"base_url"`
	Budget      llmqueue.Budget `json:"budget"`
	Concurrency int             `json:"concurrency"`
}

// Keys the fake servers accept.
const (
	OpenAIKey    = "sk-test"
	AnthropicKey = "sk-ant-test"
)

// NewProcessor builds the provider's real adapter, pointed at a fake
// server.
func NewProcessor(provider, baseURL string) (llmqueue.Processor, error) {
	switch provider {
	case "openai":
		return openai.New(openai.WithAPIKey(OpenAIKey), openai.WithBaseURL(baseURL), openai.WithTimeout(10*time.Second),
			openai.WithHTTPClient(providertest.StampSent()))
	case "bedrock":
		creds := credentials.NewStaticCredentialsProvider(providertest.TestAccessKeyID, providertest.TestSecretAccessKey, "")
		return bedrock.New(context.Background(), bedrock.WithEndpoint(baseURL), bedrock.WithTimeout(10*time.Second),
			bedrock.WithHTTPClient(providertest.StampSent()),
			bedrock.WithConfig(aws.Config{Region: providertest.TestRegion, Credentials: creds}))
	case "anthropic":
		return anthropic.New(anthropic.WithAPIKey(AnthropicKey), anthropic.WithBaseURL(baseURL),
			anthropic.WithTimeout(10*time.Second), anthropic.WithHTTPClient(providertest.StampSent()))
	}
	return nil, fmt.Errorf("unknown provider %q", provider)
}

// Run runs a BatchProcessor as raw (a JSON Spec) says until stdin closes
// (the test closes it to stop the worker, and it closes when the test
// dies), and returns the exit code.
func Run(raw string) int {
	var spec Spec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "worker spec:", err)
		return 2
	}
	proc, err := NewProcessor(spec.Provider, spec.BaseURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "processor:", err)
		return 2
	}
	opt, err := redis.ParseURL(spec.RedisURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redis url:", err)
		return 2
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{Namespace: spec.Namespace, Budget: spec.Budget, Estimator: proc.(llmqueue.Estimator)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 2
	}
	bp, err := llmqueue.NewBatchProcessor(qm, proc, &llmqueue.WorkerConfig{Concurrency: spec.Concurrency, PollInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "processor:", err)
		return 2
	}
	if err := bp.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 2
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = bp.Shutdown(ctx)
	return 0
}
