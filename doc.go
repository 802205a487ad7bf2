// Package llmqueue queues LLM requests in Redis and runs them under a token
// budget shared by every process that uses the same Redis.
//
// Teams that call LLM APIs hit tokens-per-minute and requests-per-minute
// limits, lose work when a process dies, and let one huge prompt starve many
// small ones. llmqueue puts each request in Redis with its estimated token
// cost, classifies it low (under 15,000 tokens), medium (up to 75,000) or
// long, and lets any number of worker processes run the queue without ever
// starting a call the shared budget cannot afford.
//
// # A first program
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{
//		Budget: llmqueue.Budget{TPM: 200_000, RPM: 500},
//	})
//	...
//	id, err := qm.Add(ctx, llmqueue.NewRequest(payload, llmqueue.WithEstimatedTokens(1200)))
//
//	bp, err := llmqueue.NewBatchProcessor(qm, myProcessor, &llmqueue.WorkerConfig{Concurrency: 16})
//	err = bp.Start(ctx)
//	defer bp.Shutdown(shutdownCtx)
//
//	st, err := qm.Wait(ctx, id) // completed, dead or canceled
//
// # Requests and their lifecycle
//
// A Request is a JSON payload, a token estimate and a few limits (retries,
// timeout, meta). QueueManager.Add validates it and queues it in one atomic
// Lua script; AddMany queues a batch in one round trip. A request moves
// queued -> active -> completed, or through retrying (backoff) to dead,
// or to suspended until Resume, or to canceled. Status shows every field;
// Wait blocks on pub/sub until a terminal status.
//
// # The budget
//
// Budget holds the provider's TPM and RPM limits. The usable share is the
// limit times the API allocation minus a safety buffer. A sliding log in
// Redis holds each reservation: the lease script reserves a request's
// estimate at the moment it leases it and never leases what does not fit;
// after the call the reservation is reconciled to the real usage. No window
// ever holds more than the usable limit, across all processes. A provider
// 429 (RateLimited) pauses every worker of the namespace for the time the
// provider asked, and does not spend one of the request's retries.
//
// # Processing
//
// A BatchProcessor leases work in the 3-2-1 cycle (3 low, 2 medium, 1 long;
// an empty class gives its slot away) whose position is shared through
// Redis, runs up to its concurrency through a Processor, keeps leases alive
// with heartbeats, and acks the outcome. The Processor's error decides what
// happens: Permanent dies at once, RateLimited waits and retries for free,
// Suspend parks the request for a human, anything else is retried with
// exponential backoff and jitter. A worker that dies loses its leases to
// the others when they expire; an ack from an expired lease is rejected,
// so each request completes exactly once.
//
// # Providers
//
// Packages providers/openai and providers/bedrock are Processors on the
// official SDKs that map 429s, auth and validation errors, report real
// usage and feed the provider's rate-limit headers back to the ledger.
package llmqueue
