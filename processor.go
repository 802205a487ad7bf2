package llmqueue

import (
	"context"
	"encoding/json"
	"time"
)

// Processor runs one leased request. It is the contract between the queue
// and the code that calls an LLM API: the BatchProcessor reserves the
// request's estimated tokens, calls Process, and reconciles the ledger with
// the Usage the Result reports.
//
// Process must honour ctx: it is canceled when the request's timeout passes,
// when the request is canceled from any process, or when the processor shuts
// down past its grace period.
//
// The error decides what happens next: nil completes the request; an error
// made by Permanent fails it at once (dead letter); one made by RateLimited
// sets a namespace-wide cool-down and queues the request again without
// spending a retry; one made by Suspend parks it until Resume; anything else
// is retried with exponential backoff until its retries are spent.
//
// A Processor may implement optional interfaces as well: Validator and
// Estimator for Add, ErrorClassifier, Metered, and the hooks of the
// Python base class, Preprocessor and Postprocessor around each attempt,
// HealthChecker and ProcessorInfo for health checks and Status.
//
// TypedProcessor builds a Processor from a function of typed input and
// output; WorkerConfig.Middleware wraps one in logging, tracing or metrics.
type Processor interface {
	Process(ctx context.Context, job *Job) (*Result, error)
}

// ProcessorFunc adapts an ordinary function to the Processor interface.
type ProcessorFunc func(ctx context.Context, job *Job) (*Result, error)

// Process calls f(ctx, job).
func (f ProcessorFunc) Process(ctx context.Context, job *Job) (*Result, error) {
	return f(ctx, job)
}

// Validator is implemented by a Processor that can reject a payload before
// it is queued. QueueManager.Add calls it when the manager was built with
// Config.Validator; a validation error is returned wrapped in ErrInvalidPayload.
type Validator interface {
	Validate(payload json.RawMessage) error
}

// Estimator is implemented by a Processor (or any type) that knows how many
// tokens a payload will cost. QueueManager.Add uses it when a request carries
// no estimate of its own.
type Estimator interface {
	EstimateTokens(payload json.RawMessage) (int64, error)
}

// ErrorClassifier is implemented by a Processor that wants to classify its own
// errors instead of wrapping them in Permanent or RateLimited. The returned
// error replaces the original, so it may be Permanent(err), RateLimited(d, err)
// or err itself; nil keeps the original. The BatchProcessor classifies the
// errors of Preprocess and Postprocess the same way.
type ErrorClassifier interface {
	ClassifyError(err error) error
}

// Preprocessor is implemented by a Processor that prepares each attempt
// before Process runs, as the Python base class's preprocess_request did:
// fill a template, add a system prompt, pick a model. The BatchProcessor
// calls Preprocess with the attempt's ctx, then calls Process with the same
// job.
//
// Preprocess may rewrite job.Payload (and any other field of job): the job
// is this attempt's own copy, so the rewrite is seen by this attempt's
// Process and Postprocess only. The stored payload is unchanged, the next
// attempt starts again from it, and the meter that settles the call is
// chosen from it, as the reservation was.
//
// An error from Preprocess is treated exactly as an error from Process:
// the ErrorClassifier sees it, and Permanent, RateLimited, Retryable and
// Suspend mean what they mean there; Process is not called. Neither is it
// when the attempt's ctx ended during Preprocess.
type Preprocessor interface {
	Preprocess(ctx context.Context, job *Job) error
}

// Postprocessor is implemented by a Processor that transforms what Process
// returned, as the Python base class's postprocess_result did: extract the
// answer, validate its shape. The BatchProcessor calls Postprocess with
// the attempt's ctx after Process succeeded (never after it failed), with
// the job as Process saw it and Process's Result (an empty Result when
// Process returned nil).
//
// The Result Postprocess returns replaces res as a whole, Usage and
// RateLimit included, so modify res and return it to change only the
// Output; a nil Result keeps res as it is. An error from Postprocess is
// treated exactly as an error from Process: classified, then retried, dead,
// rate limited or suspended; the ledger books the attempt as a failed
// Process, so the Usage of the discarded Result is not booked.
type Postprocessor interface {
	Postprocess(ctx context.Context, job *Job, res *Result) (*Result, error)
}

// HealthChecker is implemented by a Processor that can tell whether it is
// able to work (credentials present, provider reachable), as the Python
// base class's health_check did. BatchProcessor.HealthCheck calls it; it
// must honour ctx.
type HealthChecker interface {
	HealthCheck(ctx context.Context) error
}

// ProcessorInfo is implemented by a Processor that describes itself (its
// provider, model, limits), as the Python base class's get_processor_info
// did. BatchProcessor.Status calls it every time and shows the map as
// processor_info, so it must return at once, must be safe for concurrent
// use, and should return a map it does not change afterwards. The values
// must marshal to JSON.
type ProcessorInfo interface {
	ProcessorInfo() map[string]any
}

// Result is what a successful Process call returns.
type Result struct {
	// Output is stored as the request's result. It must be valid JSON or
	// empty.
	Output json.RawMessage
	// Usage is the real token usage; the ledger settles the reservation
	// the way the namespace's Meter says. A zero Usage keeps the
	// reservation.
	Usage Usage
	// RateLimit carries what the provider said about the remaining budget,
	// when it said anything (for example OpenAI's x-ratelimit-* headers).
	RateLimit *RateLimitInfo
}

// Usage is the token usage a provider reported for one call, or an
// estimate of it. InputTokens excludes cached input, which providers that
// cache prompts (Anthropic, Bedrock) report on its own.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	// CacheReadInputTokens is input read from the provider's prompt cache.
	CacheReadInputTokens int64 `json:"cache_read_input_tokens,omitempty"`
	// CacheCreationInputTokens is input written to the provider's prompt
	// cache.
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
}

// Total returns InputTokens + OutputTokens.
func (u Usage) Total() int64 { return u.InputTokens + u.OutputTokens }

// isZero reports whether the provider reported no usage at all.
func (u Usage) isZero() bool { return u == Usage{} }

// RateLimitInfo is the provider's own view of its limits after a call, read
// from headers such as OpenAI's x-ratelimit-* or Anthropic's
// anthropic-ratelimit-*. The queue books what the provider says is spent
// beyond its own ledger (traffic that bypasses the queue, estimates that
// fell short) in the same atomic step that records the call's outcome.
//
// RemainingTokens and RemainingRequests are negative when the provider did
// not say; the input and output dimensions count only when their Limit is
// positive. Where a Remaining count is below the room the ledger sees under
// the Budget's usable limit, the difference is booked for the rest of the
// window. The Limit fields are what the provider stated, for reports.
type RateLimitInfo struct {
	RemainingTokens   int64
	RemainingRequests int64
	ResetTokens       time.Duration
	ResetRequests     time.Duration

	// LimitTokens and LimitRequests are the provider's limits as it
	// stated them; 0 when it did not.
	LimitTokens   int64
	LimitRequests int64
	// Input and output tokens, limited separately by Anthropic (ITPM and
	// OTPM). A dimension with Limit 0 was not reported.
	LimitInputTokens      int64
	RemainingInputTokens  int64
	ResetInputTokens      time.Duration
	LimitOutputTokens     int64
	RemainingOutputTokens int64
	ResetOutputTokens     time.Duration
}
