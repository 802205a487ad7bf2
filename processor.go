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
