package llmqueue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/llmqueue/llmqueue"
	"github.com/redis/go-redis/v9"
)

// embedded returns a client on an in-process Redis, so the examples run
// anywhere.
func embedded() (redis.UniversalClient, func()) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return rdb, func() { rdb.Close(); mr.Close() }
}

func ExampleQueueManager_Add() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, err := llmqueue.NewQueueManager(rdb, llmqueue.WithBudget(llmqueue.Budget{TPM: 100_000}))
	if err != nil {
		panic(err)
	}
	id, err := qm.Add(ctx, llmqueue.NewRequest(
		map[string]any{"model": "gpt-4o-mini", "messages": []any{}},
		llmqueue.WithEstimatedTokens(20_000),
		llmqueue.WithID("req-1"),
	))
	if err != nil {
		panic(err)
	}
	st, _ := qm.Status(ctx, id)
	fmt.Println(st.ID, st.Status, st.Priority)

	_, err = qm.Add(ctx, llmqueue.NewRequest(`{}`, llmqueue.WithEstimatedTokens(95_000)))
	fmt.Println(err)
	// Output:
	// req-1 queued medium
	// llmqueue: add request 0: estimate exceeds the usable token limit: 95000 tokens > 90000 usable
}

func ExampleBatchProcessor() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb)
	id, _ := qm.Add(ctx, llmqueue.NewRequest(`{"prompt":"hello"}`, llmqueue.WithEstimatedTokens(10)))

	echo := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		return &llmqueue.Result{Output: job.Payload, Usage: llmqueue.Usage{InputTokens: 3, OutputTokens: 2}}, nil
	})
	bp, _ := llmqueue.NewBatchProcessor(qm, echo, llmqueue.WithConcurrency(4))
	_ = bp.Start(ctx)
	defer bp.Shutdown(ctx)

	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := qm.Wait(wctx, id)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Status, string(st.Result), st.Usage.InputTokens+st.Usage.OutputTokens)
	// Output: completed {"prompt":"hello"} 5
}

func ExampleSuspend() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb)
	approve := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		if job.ResumeInput == nil {
			return nil, llmqueue.Suspend("needs approval", []byte(`{"draft":"v1"}`))
		}
		var in struct{ Approved bool }
		_ = json.Unmarshal(job.ResumeInput, &in)
		out, _ := json.Marshal(map[string]any{"approved": in.Approved, "state": json.RawMessage(job.State)})
		return &llmqueue.Result{Output: out}, nil
	})
	bp, _ := llmqueue.NewBatchProcessor(qm, approve, llmqueue.WithPollInterval(10*time.Millisecond))
	_ = bp.Start(ctx)
	defer bp.Shutdown(ctx)

	id, _ := qm.Add(ctx, llmqueue.NewRequest(`{}`, llmqueue.WithEstimatedTokens(1)))
	for {
		st, _ := qm.Status(ctx, id)
		if st.Status == llmqueue.StatusSuspended {
			fmt.Println(st.Status, st.SuspendReason)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = qm.Resume(ctx, id, map[string]bool{"approved": true})
	st, _ := qm.Wait(ctx, id)
	fmt.Println(st.Status, string(st.Result))
	// Output:
	// suspended needs approval
	// completed {"approved":true,"state":{"draft":"v1"}}
}

func ExampleBudget() {
	b := llmqueue.Budget{TPM: 200_000, RPM: 1_000, APIAllocationPercent: 40}
	fmt.Println(b.UsableTokens(), b.UsableRequests())
	// Output: 72000 360
}
