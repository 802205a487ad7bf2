package llmqueue_test

import (
	"context"
	"fmt"
	"time"

	"github.com/llmqueue/llmqueue"
)

// logAttempts is a Middleware: it wraps any Processor and reports each
// attempt, here on stdout, in real code to a logger or a tracer.
func logAttempts(next llmqueue.Processor) llmqueue.Processor {
	return llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		fmt.Println("start", job.ID, "attempt", job.Attempt)
		res, err := next.Process(ctx, job)
		fmt.Println("end", job.ID, "error:", err)
		return res, err
	})
}

func ExampleMiddleware() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb, nil)

	// The greeter's Preprocess and Postprocess still run inside the
	// middleware: optional interfaces are found on the processor itself.
	bp, _ := llmqueue.NewBatchProcessor(qm, greeter{}, &llmqueue.WorkerConfig{Middleware: []llmqueue.Middleware{logAttempts}})
	_ = bp.Start(ctx)
	defer bp.Shutdown(ctx)

	id, _ := qm.Add(ctx, llmqueue.NewRequest(`{"name":"Ada"}`, llmqueue.WithID("greet-1"), llmqueue.WithEstimatedTokens(10)))
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, _ := qm.Wait(wctx, id)
	fmt.Println(st.Status, string(st.Result))
	// Output:
	// start greet-1 attempt 1
	// end greet-1 error: <nil>
	// completed "Hello, Ada!"
}
