// Command llmqueue sees and steers an llmqueue namespace in Redis: queue
// depths and budget use, requests by state, one request in full, cancel,
// resume and requeue, the live workers, and a live terminal view.
//
// Install it with
//
//	go install github.com/llmqueue/llmqueue/cmd/llmqueue@latest
//
// Usage:
//
//	llmqueue [--redis-url URL] [--namespace NS] COMMAND [flags] [args]
//
//	stats                       queue depths per class and state, budget use per
//	                            dimension, cool-down, last minute's rates, workers
//	ls STATE                    one page of requests in queued, active, scheduled
//	                            (retrying), suspended or dead; --limit, --cursor
//	inspect ID                  every field of one request, payload and result
//	cancel ID...                cancel requests (a running one via its worker)
//	resume ID --input JSON|@F   resume a suspended request with an input
//	requeue ID... | --all-dead  queue dead requests again
//	workers                     the live workers
//	top                         live view; --interval, --once, --since
//
// Every read command (stats, ls, inspect, workers, top --once) takes --json
// and then prints a stable JSON document instead of tables. Each command's
// --help explains it with an example.
//
// The command is configured by the environment the library's processes
// read (package envconfig): REDIS_URL, or REDIS_HOST, REDIS_PORT, REDIS_DB
// and REDIS_PASSWORD; LLM_QUEUE_NAMESPACE; and LLM_QUEUE_TOTAL_TPM and the
// other budget variables, which give the usable limits stats and top show
// (they are not stored in Redis, so give llmqueue the workers' values).
// --redis-url and --namespace override the environment, before or after the
// command name.
//
// Exit codes: 0 ok; 1 the operation failed (Redis unreachable, a timeout);
// 2 bad flags, arguments or environment; 3 not found (unknown or expired
// ID); 4 not allowed in the request's state (the library's
// ErrInvalidState); 5 the state has no index (ls completed, ls canceled).
// Commands that take several IDs try every one, print one line per ID and
// exit with the worst code (1 first, then the larger).
package main
