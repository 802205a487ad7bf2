package llmqueue_test

import (
	"context"
	"fmt"

	"github.com/llmqueue/llmqueue"
)

func ExampleQueueManager_PauseProcessing() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb, nil)

	// Any process of the namespace can pause every worker of it.
	_ = qm.PauseProcessing(ctx)
	st, _ := qm.ProcessingState(ctx)
	fmt.Println("paused:", st.Paused)

	// Workers keep running what they hold; resume lets them lease again.
	_ = qm.ResumeProcessing(ctx)
	st, _ = qm.ProcessingState(ctx)
	fmt.Println("paused:", st.Paused)
	// Output:
	// paused: true
	// paused: false
}

func ExampleQueueManager_SetCycle() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb, nil)

	// Every worker leases 5 low, 2 medium, 1 long from its next lease call.
	if err := qm.SetCycle(ctx, llmqueue.Cycle{Low: 5, Medium: 2, Long: 1}); err != nil {
		panic(err)
	}
	st, _ := qm.ProcessingState(ctx)
	fmt.Println("cycle:", st.Cycle)

	// A class without a slot would starve: refused.
	fmt.Println(qm.SetCycle(ctx, llmqueue.Cycle{Low: 1, Medium: 0, Long: 1}))
	// Output:
	// cycle: 5,2,1
	// invalid request: cycle 1,0,1: want 1-1000 slots per class
}

func ExampleQueueManager_ClearQueues() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb, nil)
	for _, tokens := range []int64{100, 200, 20_000} {
		_, _ = qm.Add(ctx, llmqueue.NewRequest(`{}`, llmqueue.WithEstimatedTokens(tokens)))
	}
	forced, _ := qm.Add(ctx, llmqueue.NewRequest(`{}`, llmqueue.WithEstimatedTokens(100),
		llmqueue.WithPriority(llmqueue.PriorityLong)))

	rep, _ := qm.ClearQueues(ctx, llmqueue.PriorityLow)
	fmt.Println("removed:", rep.Removed[llmqueue.PriorityLow])
	info, _ := qm.QueueInfo(ctx)
	for _, q := range info.Queues {
		fmt.Println(q.Class, q.Length)
	}
	st, _ := qm.Status(ctx, forced)
	fmt.Println(st.Priority, st.Status)
	// Output:
	// removed: 2
	// low 0
	// medium 1
	// long 1
	// long queued
}
