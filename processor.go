package llmqueue

import (
	"context"
	"encoding/json"
	"time"
)

// The BatchProcessor reserves a request's estimated tokens, calls Process,
// and reconciles the ledger with the Usage the Result reports. Optional
// interfaces a Processor may implement: Validator and Estimator (for Add),
// ErrorClassifier, Metered, the Python base class's hooks Preprocessor and
// Postprocessor around each attempt, HealthChecker and ProcessorInfo. The
// optional ones are looked up on the Processor given to NewBatchProcessor,
// never on what a Middleware returns.

// Processor runs one leased request; it must honour ctx, canceled at the
// request's timeout, on Cancel or at shutdown. A nil error completes it; see
// Permanent, RateLimited and Suspend; other errors are retried with backoff.
type Processor interface {
	Process(ctx context.Context, job *Job) (*Result, error)
}

// ProcessorFunc adapts an ordinary function to the Processor interface.
type ProcessorFunc func(ctx context.Context, job *Job) (*Result, error)

// Process calls f(ctx, job).
func (f ProcessorFunc) Process(ctx context.Context, job *Job) (*Result, error) {
	return f(ctx, job)
}

// Validator rejects a payload before it is queued: Add calls it when set as
// Config.Validator and wraps its error in ErrInvalidPayload.
type Validator interface {
	Validate(payload json.RawMessage) error
}

// Estimator tells how many tokens a payload will cost; Add asks it when a
// request carries no estimate of its own.
type Estimator interface {
	EstimateTokens(payload json.RawMessage) (int64, error)
}

// ErrorClassifier lets a Processor classify its errors (and its hooks'): the
// error it returns, e.g. Permanent(err), replaces the original; nil keeps it.
type ErrorClassifier interface {
	ClassifyError(err error) error
}

// Preprocessor is implemented by a Processor that prepares each attempt
// before Process (fill a template, pick a model). It may rewrite the job (this
// attempt's copy); an error counts as Process's, and Process is not called.
type Preprocessor interface {
	Preprocess(ctx context.Context, job *Job) error
}

// Postprocessor is implemented by a Processor that transforms the Result of a
// successful Process (empty if nil): the Result it returns replaces it whole
// (nil keeps it); an error counts as Process's, and its Usage is not booked.
type Postprocessor interface {
	Postprocess(ctx context.Context, job *Job, res *Result) (*Result, error)
}

// HealthChecker is implemented by a Processor that can tell whether it can
// work; BatchProcessor.HealthCheck calls it, and it must honour ctx.
type HealthChecker interface {
	HealthCheck(ctx context.Context) error
}

// ProcessorInfo is implemented by a Processor that describes itself for
// BatchProcessor.Status, on each call: it must return at once, be safe for
// concurrent use, and return a JSON-marshalable map it never changes.
type ProcessorInfo interface {
	ProcessorInfo() map[string]any
}

// Result is what a successful Process call returns.
type Result struct {
	Output    json.RawMessage // stored as the request's result: valid JSON or empty
	Usage     Usage           // the real usage, settled by the Meter; zero keeps the reservation
	RateLimit *RateLimitInfo  // the provider's rate-limit headers, if it sent any
	Model     string          // the model that answered, for Config.Prices; "" means the Deployment's
}

// Usage is the token usage of one call, reported or estimated. InputTokens
// excludes cached input, which Anthropic and Bedrock report apart.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`                          // uncached input
	OutputTokens             int64 `json:"output_tokens"`                         // output
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`     // input read from the prompt cache
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"` // input written to the prompt cache
}

// Total returns InputTokens + OutputTokens.
func (u Usage) Total() int64 { return u.InputTokens + u.OutputTokens }

// isZero reports whether the provider reported no usage at all.
func (u Usage) isZero() bool { return u == Usage{} }

// How a RateLimitInfo is booked: the queue books what the provider says is
// spent beyond its own ledger (traffic that bypasses the queue, estimates
// that fell short) in the same atomic step that records the call's outcome.
// RemainingTokens and RemainingRequests are negative when the provider did
// not say; the input and output dimensions count only when their Limit is
// positive. Where a Remaining count is below the room the ledger sees under
// the Budget's usable limit, the difference is booked for the rest of the
// window. The Limit fields are what the provider stated, for reports.

// RateLimitInfo is the provider's view of its limits after a call, from its
// rate-limit headers; Remaining counts below the ledger's are booked as spent.
type RateLimitInfo struct {
	RemainingTokens   int64         // negative when not reported
	RemainingRequests int64         // negative when not reported
	ResetTokens       time.Duration // until the token limit resets
	ResetRequests     time.Duration // until the request limit resets

	// The provider's stated limits, for reports; 0 when not stated.
	LimitTokens   int64
	LimitRequests int64
	// Anthropic's separate input and output limits (ITPM, OTPM); Limit 0: none.
	LimitInputTokens      int64
	RemainingInputTokens  int64
	ResetInputTokens      time.Duration
	LimitOutputTokens     int64
	RemainingOutputTokens int64
	ResetOutputTokens     time.Duration
}
