package llmqueue_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/llmqueue/llmqueue"
)

// ExampleNewRouter serves one queue with two deployments of a model. The
// first is down: its request fails over to the second without spending a
// retry, and the call is priced at the model's price.
func ExampleNewRouter() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb, &llmqueue.Config{
		Prices: map[string]llmqueue.Price{"gpt-4o": {InputPerMillion: 2.50, OutputPerMillion: 10}},
	})
	down := llmqueue.ProcessorFunc(func(context.Context, *llmqueue.Job) (*llmqueue.Result, error) {
		return nil, errors.New("dial tcp 10.0.0.1:443: connect: connection refused")
	})
	up := llmqueue.ProcessorFunc(func(_ context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		return &llmqueue.Result{Output: job.Payload, Usage: llmqueue.Usage{InputTokens: 1000, OutputTokens: 500}}, nil
	})
	r, _ := llmqueue.NewRouter(qm, []llmqueue.Deployment{
		{Name: "east", Model: "gpt-4o", Budget: llmqueue.Budget{TPM: 30_000}, Processor: down},
		{Name: "west", Model: "gpt-4o", Budget: llmqueue.Budget{TPM: 60_000}, Processor: up},
	}, &llmqueue.WorkerConfig{PollInterval: 10 * time.Millisecond})
	_ = r.Start(ctx)
	defer r.Shutdown(ctx)

	id, _ := qm.Add(ctx, llmqueue.NewRequest(`{"prompt":"hello"}`, llmqueue.WithEstimatedTokens(1500)))
	st, _ := qm.Wait(ctx, id)
	fmt.Printf("%s on %s after %d attempt, $%.4f\n", st.Status, st.Deployment, st.Attempts, st.CostUSD)
	// Output:
	// completed on west after 1 attempt, $0.0075
}
