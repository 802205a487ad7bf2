package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/llmqueue/llmqueue"
)

// The limits of -demo when the environment sets none, so the dashboard's
// budget chart has limits to draw: tokens and requests per window.
const (
	demoTPM = 3_000_000
	demoRPM = 600
)

// demoInterval is how often -demo queues a request.
const demoInterval = 600 * time.Millisecond

// demoWork stands in for an LLM provider: each call takes 0.3-2.5 s and
// reports usage near its estimate; about one in twenty fails for good,
// one in twenty waits for a human (resume it from the dashboard), and one
// in thirty answers a 429.
type demoWork struct{}

func (demoWork) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	if job.ResumeInput == nil {
		switch n := rand.IntN(60); {
		case n < 3:
			return nil, llmqueue.Permanent(errors.New("demo: the provider refused the prompt"))
		case n < 6:
			return nil, llmqueue.Suspend("demo: approve the draft", []byte(`{"draft":1}`))
		case n < 8:
			return nil, llmqueue.RateLimited(2*time.Second, errors.New("demo: 429 too many tokens"))
		}
	}
	select {
	case <-time.After(300*time.Millisecond + rand.N(2200*time.Millisecond)):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	in := job.EstimatedTokens * 7 / 10
	return &llmqueue.Result{Output: []byte(`{"text":"demo answer"}`),
		Usage: llmqueue.Usage{InputTokens: in, OutputTokens: job.EstimatedTokens - in}}, nil
}

// startDemo runs a BatchProcessor with demoWork on qm and queues a request
// of a random size every demoInterval. The returned function stops both.
func startDemo(ctx context.Context, qm *llmqueue.QueueManager, logger *slog.Logger) (func(), error) {
	bp, err := llmqueue.NewBatchProcessor(qm, demoWork{}, &llmqueue.WorkerConfig{
		WorkerID: "demo-worker", Concurrency: 6, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("demo processor: %w", err)
	}
	if err := bp.Start(ctx); err != nil {
		return nil, fmt.Errorf("demo processor: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		tick := time.NewTicker(demoInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// About 1.8M tokens and 100 requests a minute: some 60%
			// and 20% of the demo budget.
			sizes := []int64{800, 1500, 2500, 4000, 6000, 12000, 30000, 90000}
			tokens := sizes[rand.IntN(len(sizes))]
			req := llmqueue.NewRequest(map[string]string{"prompt": "demo"}, llmqueue.WithEstimatedTokens(tokens))
			if _, err := qm.Add(ctx, req); err != nil && ctx.Err() == nil {
				logger.Warn("demo: add failed", "error", err.Error())
			}
		}
	}()
	return func() {
		cancel()
		<-fed
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := bp.Shutdown(sctx); err != nil {
			logger.Warn("demo: processor shutdown", "error", err.Error())
		}
	}, nil
}
