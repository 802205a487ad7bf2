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
// WithValidator; a validation error is returned wrapped in ErrInvalidPayload.
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
// or err itself.
type ErrorClassifier interface {
	ClassifyError(err error) error
}

// Result is what a successful Process call returns.
type Result struct {
	// Output is stored as the request's result. It must be valid JSON or
	// empty.
	Output json.RawMessage
	// Usage is the real token usage; the ledger is reconciled to its total.
	// A zero Usage keeps the estimate.
	Usage Usage
	// RateLimit carries what the provider said about the remaining budget,
	// when it said anything (for example OpenAI's x-ratelimit-* headers).
	RateLimit *RateLimitInfo
}

// Usage is the token usage a provider reported for one call.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// Total returns InputTokens + OutputTokens.
func (u Usage) Total() int64 { return u.InputTokens + u.OutputTokens }

// RateLimitInfo is the provider's own view of the remaining budget. A
// negative Remaining value means the provider did not say.
type RateLimitInfo struct {
	RemainingTokens   int64
	RemainingRequests int64
	ResetTokens       time.Duration
	ResetRequests     time.Duration
}
