package llmqueue_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/llmqueue/llmqueue"
)

func ExampleQueueManager_WaitAll() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb, nil)
	double := llmqueue.TypedProcessor(func(ctx context.Context, job *llmqueue.Job, n int) (int, llmqueue.Usage, error) {
		return 2 * n, llmqueue.Usage{}, nil
	})
	bp, _ := llmqueue.NewBatchProcessor(qm, double, nil)
	_ = bp.Start(ctx)
	defer bp.Shutdown(ctx)

	var ids []string
	for n := range 3 {
		id, _ := qm.Add(ctx, llmqueue.NewRequest(n, llmqueue.WithEstimatedTokens(1)))
		ids = append(ids, id)
	}
	// One subscription for all of them, and no goroutine per request.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sts, err := qm.WaitAll(wctx, ids)
	if err != nil {
		panic(err)
	}
	for _, id := range ids {
		n, _ := llmqueue.DecodeResult[int](sts[id])
		fmt.Println(sts[id].Status, n)
	}
	// Output:
	// completed 0
	// completed 2
	// completed 4
}

func ExampleQueueManager_WaitEach() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb, nil)
	bp, _ := llmqueue.NewBatchProcessor(qm, llmqueue.ProcessorFunc(
		func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
			return &llmqueue.Result{Output: job.Payload}, nil
		}), nil)
	_ = bp.Start(ctx)
	defer bp.Shutdown(ctx)

	var ids []string
	for _, p := range []string{`"a"`, `"b"`} {
		id, _ := qm.Add(ctx, llmqueue.NewRequest(p, llmqueue.WithEstimatedTokens(1)))
		ids = append(ids, id)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var results []string
	for st, err := range qm.WaitEach(wctx, ids) { // each as it finishes
		if err != nil {
			panic(err) // the loop ends after an error
		}
		results = append(results, string(st.Result))
	}
	slices.Sort(results) // the order they finished in may vary
	fmt.Println(results)
	// Output: ["a" "b"]
}
