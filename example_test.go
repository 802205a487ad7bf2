package llmqueue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{Budget: llmqueue.Budget{TPM: 100_000}})
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
	qm, _ := llmqueue.NewQueueManager(rdb, nil)
	id, _ := qm.Add(ctx, llmqueue.NewRequest(`{"prompt":"hello"}`, llmqueue.WithEstimatedTokens(10)))

	echo := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		return &llmqueue.Result{Output: job.Payload, Usage: llmqueue.Usage{InputTokens: 3, OutputTokens: 2}}, nil
	})
	bp, _ := llmqueue.NewBatchProcessor(qm, echo, &llmqueue.WorkerConfig{Concurrency: 4})
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
	// Every wait below is bounded: a broken build fails, it never hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qm, _ := llmqueue.NewQueueManager(rdb, nil)
	approve := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		if job.ResumeInput == nil {
			return nil, llmqueue.Suspend("needs approval", []byte(`{"draft":"v1"}`))
		}
		var in struct{ Approved bool }
		_ = json.Unmarshal(job.ResumeInput, &in)
		out, _ := json.Marshal(map[string]any{"approved": in.Approved, "state": json.RawMessage(job.State)})
		return &llmqueue.Result{Output: out}, nil
	})
	bp, _ := llmqueue.NewBatchProcessor(qm, approve, &llmqueue.WorkerConfig{PollInterval: 10 * time.Millisecond})
	_ = bp.Start(ctx)
	defer bp.Shutdown(ctx)

	id, _ := qm.Add(ctx, llmqueue.NewRequest(`{}`, llmqueue.WithEstimatedTokens(1)))
	for ctx.Err() == nil {
		st, err := qm.Status(ctx, id)
		if err == nil && st.Status == llmqueue.StatusSuspended {
			fmt.Println(st.Status, st.SuspendReason)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = qm.Resume(ctx, id, map[string]bool{"approved": true})
	st, err := qm.Wait(ctx, id)
	if err != nil {
		fmt.Println(err)
		return
	}
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

// greeter fills a prompt template before each call, trims the answer
// after it, and reports its health and a description of itself.
type greeter struct{}

// Preprocess turns {"name": ...} into the prompt; the stored payload stays
// {"name": ...}.
func (greeter) Preprocess(ctx context.Context, job *llmqueue.Job) error {
	var in struct{ Name string }
	if err := json.Unmarshal(job.Payload, &in); err != nil || in.Name == "" {
		return llmqueue.Permanent(fmt.Errorf("a name is required"))
	}
	job.Payload, _ = json.Marshal(map[string]string{"prompt": "Say hello to " + in.Name})
	return nil
}

// Process stands in for the LLM call.
func (greeter) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	var in struct{ Prompt string }
	_ = json.Unmarshal(job.Payload, &in)
	out, _ := json.Marshal("  Hello, " + strings.TrimPrefix(in.Prompt, "Say hello to ") + "!  ")
	return &llmqueue.Result{Output: out, Usage: llmqueue.Usage{InputTokens: 4, OutputTokens: 3}}, nil
}

// Postprocess trims the answer and keeps the usage.
func (greeter) Postprocess(ctx context.Context, job *llmqueue.Job, res *llmqueue.Result) (*llmqueue.Result, error) {
	var s string
	if err := json.Unmarshal(res.Output, &s); err != nil {
		return nil, err // retried like a Process error
	}
	res.Output, _ = json.Marshal(strings.TrimSpace(s))
	return res, nil
}

func (greeter) HealthCheck(ctx context.Context) error { return nil }

func (greeter) ProcessorInfo() map[string]any { return map[string]any{"model": "echo-1"} }

func ExamplePreprocessor() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb, nil)
	bp, _ := llmqueue.NewBatchProcessor(qm, greeter{}, nil)
	_ = bp.Start(ctx)
	defer bp.Shutdown(ctx)

	id, _ := qm.Add(ctx, llmqueue.NewRequest(`{"name":"Ada"}`, llmqueue.WithEstimatedTokens(10)))
	bad, _ := qm.Add(ctx, llmqueue.NewRequest(`{}`, llmqueue.WithEstimatedTokens(10)))
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, _ := qm.Wait(wctx, id)
	fmt.Println(st.Status, string(st.Result), string(st.Payload))
	st, _ = qm.Wait(wctx, bad)
	fmt.Println(st.Status, st.Attempts, st.Error)
	fmt.Println(bp.HealthCheck(ctx), bp.Status().ProcessorInfo)
	// Output:
	// completed "Hello, Ada!" {"name":"Ada"}
	// dead 1 permanent: a name is required
	// <nil> map[model:echo-1]
}
