// Package llmqueue queues LLM requests in Redis and runs them under a token
// budget (TPM, RPM and more) shared by every process on the same Redis.
//
//	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{
//		Budget: llmqueue.Budget{TPM: 200_000, RPM: 500},
//	})
//	id, err := qm.Add(ctx, llmqueue.NewRequest(payload, llmqueue.WithEstimatedTokens(1200)))
//
//	bp, err := llmqueue.NewBatchProcessor(qm, myProcessor, &llmqueue.WorkerConfig{Concurrency: 16})
//	err = bp.Start(ctx)
//	defer bp.Shutdown(shutdownCtx)
//
//	st, err := qm.Wait(ctx, id) // completed, dead or canceled
//
// The README explains the lifecycle, the budget ledger, the 3-2-1 cycle,
// retries, durability and the guarantees. Related packages: envconfig
// (a Config from the environment), llmqueuetest (test kit), providers/openai,
// providers/anthropic and providers/bedrock (Processors and Meters), prom
// (Prometheus metrics), otel (OpenTelemetry spans), httpapi (HTTP API and
// dashboard) and cmd/llmqueue (the command line).
package llmqueue
