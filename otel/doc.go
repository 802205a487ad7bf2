// Package otel traces the attempts of an llmqueue BatchProcessor with
// OpenTelemetry, following the GenAI semantic conventions. It is a package
// of its own so that a program importing only llmqueue does not link
// OpenTelemetry.
//
// Middleware wraps every attempt in a span; list it in the worker's
// configuration:
//
//	bp, err := llmqueue.NewBatchProcessor(qm, proc, &llmqueue.WorkerConfig{
//		Middleware: []llmqueue.Middleware{otel.Middleware(otel.WithSystem("openai"))},
//	})
//
// The spans go to the global TracerProvider (otel.SetTracerProvider) unless
// WithTracerProvider names another. A span's context is the context of the
// Processor's call, so the spans of an instrumented HTTP client or provider
// SDK are its children. Each attempt is a span of its own: a request that
// fails once and then succeeds gives two, a request that never runs gives
// none. A request queued with WithTraceContext(ctx) carries the trace
// context of ctx's span in its meta, and each attempt's span is a child of
// that span, in the same trace, whichever process runs it; otherwise each
// span starts a trace of its own.
//
//	qm.Add(ctx, llmqueue.NewRequest(payload, otel.WithTraceContext(ctx)))
//
// # Span
//
// The span is of kind Client and named "{gen_ai.operation.name}
// {gen_ai.request.model}", such as "chat gpt-4o"; while the model is
// unknown it is named "llmqueue.attempt". Its attributes:
//
//   - gen_ai.provider.name and gen_ai.system (its older name), both
//     WithSystem's value; left out without it.
//   - gen_ai.operation.name: WithOperation's value, "chat" by default.
//   - gen_ai.request.model: the payload's top-level "model", else its
//     "modelId", or what WithModel returns; left out when unknown.
//   - gen_ai.usage.input_tokens and gen_ai.usage.output_tokens, from the
//     Result's Usage when the Processor reported any. The input count
//     includes cached input (llmqueue.Usage keeps it apart), which is also
//     reported as gen_ai.usage.cache_read.input_tokens and
//     gen_ai.usage.cache_creation.input_tokens when not zero.
//   - llmqueue.request.id, llmqueue.class (low, medium or long),
//     llmqueue.attempt (1 on the first attempt), llmqueue.max_retries and
//     llmqueue.estimated_tokens (the tokens reserved for the attempt).
//   - llmqueue.queue_wait_ms: Job.LeasedAt - Job.CreatedAt, both on Redis's
//     clock, in milliseconds. On the first attempt it is the time the
//     request waited in its queue. On a later attempt it is the whole time
//     since Add, earlier attempts and their backoffs included; the
//     difference from the previous attempt's value shows the retry's own
//     wait.
//   - llmqueue.outcome: completed, retry, rate_limited, permanent,
//     suspended, canceled or timeout (see Outcome).
//
// A failed attempt (every outcome but completed and suspended) sets the
// span's status to Error with the error's message, and error.type: the
// ErrorType() string of an error in the chain that has that method (the
// convention go.opentelemetry.io/otel/semconv reads), else the outcome. A
// rate limit or a Retryable error that asks for a wait adds
// llmqueue.retry_after_ms, and a rate limit adds a span event,
// llmqueue.rate_limited. A suspended attempt keeps an unset status and
// records llmqueue.suspend_reason.
//
// The outcome is decided as the BatchProcessor decides what to do with the
// attempt: a context canceled (by Cancel, a shutdown or a lost lease) makes
// it canceled whatever the error; then Suspend, Permanent and RateLimited
// errors, wherever they are in the chain; then an attempt whose time limit
// ran out is timeout; any other error is retry (the request is retried
// while it has retries left, else it is dead).
package otel
