package llmqueue

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Priority is a request's size class. The BatchProcessor serves the classes
// in a repeating cycle (3 low, 2 medium, 1 long by default) so that one huge
// prompt cannot starve many small ones.
type Priority string

// The three size classes.
const (
	PriorityLow    Priority = "low"
	PriorityMedium Priority = "medium"
	PriorityLong   Priority = "long"
)

// Priorities lists the classes in cycle order.
var Priorities = []Priority{PriorityLow, PriorityMedium, PriorityLong}

// valid reports whether p is one of the three classes.
func (p Priority) valid() bool {
	return p == PriorityLow || p == PriorityMedium || p == PriorityLong
}

// Default classification thresholds: low is below 15,000 tokens, long above
// 75,000, medium in between (both ends included).
const (
	defaultLowMaxTokens    int64 = 14_999
	defaultMediumMaxTokens int64 = 75_000
)

// Thresholds classifies token estimates into priorities. A zero value uses
// the defaults.
type Thresholds struct {
	// LowMax is the largest estimate that is still low. Defaults to 14,999.
	LowMax int64
	// MediumMax is the largest estimate that is still medium. Defaults to 75,000.
	MediumMax int64
}

func (t Thresholds) withDefaults() Thresholds {
	if t.LowMax <= 0 {
		t.LowMax = defaultLowMaxTokens
	}
	if t.MediumMax <= 0 {
		t.MediumMax = defaultMediumMaxTokens
	}
	return t
}

// Classify returns the priority for an estimate of tokens.
func (t Thresholds) Classify(tokens int64) Priority {
	t = t.withDefaults()
	switch {
	case tokens <= t.LowMax:
		return PriorityLow
	case tokens <= t.MediumMax:
		return PriorityMedium
	default:
		return PriorityLong
	}
}

// Status is a request's place in its lifecycle:
//
//	queued -> active -> completed
//	             |  -> retrying (backoff) -> queued
//	             |  -> dead (retries spent or permanent error) -> queued via Requeue
//	             |  -> suspended (awaiting input) -> queued via Resume
//	queued/suspended/active -> canceled
type Status string

// Request statuses.
const (
	StatusQueued    Status = "queued"
	StatusActive    Status = "active"
	StatusRetrying  Status = "retrying"
	StatusCompleted Status = "completed"
	StatusDead      Status = "dead"
	StatusSuspended Status = "suspended"
	StatusCanceled  Status = "canceled"
)

// Terminal reports whether no further transition happens without a caller
// acting (completed, dead, canceled).
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusDead || s == StatusCanceled
}

// Defaults for a request's options.
const (
	defaultMaxRetries = 3
	defaultTimeout    = 10 * time.Minute
)

// Limits on a request's meta at Add: at most maxMetaEntries keys, and at
// most maxMetaBytes for all keys and JSON values together. A request over
// either fails with a *LimitError that matches ErrInvalidRequest. Meta is
// for small labels and progress, not data: the payload carries data.
const (
	maxMetaEntries = 256
	maxMetaBytes   = 64 << 10
)

// Request is one unit of work: a JSON payload and its token estimate. Build
// it with NewRequest; the zero value is not useful.
type Request struct {
	ID              string
	Payload         json.RawMessage
	EstimatedTokens int64
	// EstimatedUsage splits the estimate into input and output tokens
	// when WithEstimatedUsage set it.
	EstimatedUsage Usage
	// estimated reports whether EstimatedTokens was set by the caller.
	estimated bool
	// split reports whether EstimatedUsage was set by the caller.
	split      bool
	MaxRetries int
	Timeout    time.Duration
	Meta       map[string]any
	// Priority, when set by WithPriority, is the class the request is
	// queued in whatever its estimate; empty classifies the estimate.
	Priority Priority
	err      error
}

// RequestOption configures a Request.
type RequestOption func(*Request)

// NewRequest builds a request from a payload: a json.RawMessage or []byte
// is taken as JSON text (and validated at Add), anything else is marshalled.
// A Go string is taken as JSON text too, not marshalled: NewRequest(`{"a":1}`)
// queues an object, and text meant as a JSON string must be marshalled first.
// Add refuses a payload that is not valid JSON in valid UTF-8, is JSON
// null (a nil payload), or is larger than the manager's
// Config.MaxPayloadBytes.
// Errors surface from QueueManager.Add, never as a panic.
func NewRequest(payload any, opts ...RequestOption) *Request {
	r := &Request{MaxRetries: defaultMaxRetries}
	switch p := payload.(type) {
	case json.RawMessage:
		r.Payload = p
	case []byte:
		r.Payload = json.RawMessage(p)
	case string:
		r.Payload = json.RawMessage(p)
	default:
		b, err := json.Marshal(p)
		if err != nil {
			r.err = fmt.Errorf("%w: %v", ErrInvalidPayload, err)
		}
		r.Payload = b
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// WithID sets the request's ID (default: a new time-ordered random ID): at
// most 200 bytes of UTF-8 without control characters. Adding a different
// request under an ID that is stored fails with ErrDuplicateID; adding the
// same request again answers success, so an Add can be retried safely (see
// QueueManager.Add).
func WithID(id string) RequestOption { return func(r *Request) { r.ID = id } }

// WithEstimatedTokens sets the token estimate that is classified and
// reserved. Without it the manager's Estimator (default: the heuristic) is
// asked.
func WithEstimatedTokens(n int64) RequestOption {
	return func(r *Request) { r.EstimatedTokens, r.estimated = n, true }
}

// WithEstimatedUsage sets the estimate split into input tokens and output
// tokens (the output allowance, such as max_tokens), which budgets with
// separate input and output limits need; EstimatedTokens becomes their
// sum. Without it the manager's Estimator is asked (and its split used when
// it implements UsageEstimator).
func WithEstimatedUsage(u Usage) RequestOption {
	return func(r *Request) {
		r.EstimatedUsage, r.split = u, true
		r.EstimatedTokens, r.estimated = addTokensSat(u.InputTokens, u.OutputTokens), true
	}
}

// WithMaxRetries sets how many times a failed attempt is retried (default 3;
// 0 means one attempt only).
func WithMaxRetries(n int) RequestOption { return func(r *Request) { r.MaxRetries = n } }

// WithTimeout sets the time one attempt may run before its context is
// canceled (default: the processor's, 10 minutes unless configured).
func WithTimeout(d time.Duration) RequestOption { return func(r *Request) { r.Timeout = d } }

// WithPriority queues the request in class p (low, medium or long)
// whatever its estimate says, like the Python package's task_type: a
// short prompt that must wait behind the long ones, or a large one that
// should not. The estimate still decides what the budget reserves, so an
// override never lets a request spend more than it is charged.
func WithPriority(p Priority) RequestOption { return func(r *Request) { r.Priority = p } }

// WithMeta sets initial meta values, visible through Status.
func WithMeta(meta map[string]any) RequestOption {
	return func(r *Request) {
		if r.Meta == nil {
			r.Meta = make(map[string]any, len(meta))
		}
		for k, v := range meta {
			r.Meta[k] = v
		}
	}
}

// validate checks everything that can be checked without Redis.
func (r *Request) validate() error {
	if r.err != nil {
		return r.err
	}
	if len(r.Payload) == 0 || !json.Valid(r.Payload) {
		return fmt.Errorf("%w: not valid JSON", ErrInvalidPayload)
	}
	if !utf8.Valid(r.Payload) {
		// encoding/json accepts such bytes in strings; JSON clients reading
		// the request back cannot decode them.
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidPayload)
	}
	if isJSONNull(r.Payload) {
		return fmt.Errorf("%w: payload is null", ErrInvalidPayload)
	}
	u := r.EstimatedUsage
	counts := []int64{r.EstimatedTokens, u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens}
	for _, n := range counts {
		if n < 0 {
			return fmt.Errorf("%w: %d is negative", ErrInvalidTokens, n)
		}
	}
	for _, n := range counts {
		if n > MaxTokens {
			return &LimitError{What: "estimated tokens", Size: n, Limit: MaxTokens, Err: ErrInvalidTokens}
		}
	}
	if r.Priority != "" && !r.Priority.valid() {
		return fmt.Errorf("%w: priority %q is not low, medium or long", ErrInvalidRequest, r.Priority)
	}
	if r.MaxRetries < 0 {
		return fmt.Errorf("%w: max retries %d is negative", ErrInvalidRequest, r.MaxRetries)
	}
	if r.Timeout < 0 {
		return fmt.Errorf("%w: timeout %s is negative", ErrInvalidRequest, r.Timeout)
	}
	if len(r.ID) > 200 {
		return fmt.Errorf("%w: id longer than 200 bytes", ErrInvalidRequest)
	}
	if !utf8.ValidString(r.ID) {
		return fmt.Errorf("%w: id is not valid UTF-8", ErrInvalidRequest)
	}
	for _, c := range r.ID {
		// Scripts keep IDs in tab- and newline-separated records.
		if unicode.IsControl(c) {
			return fmt.Errorf("%w: id holds a control character", ErrInvalidRequest)
		}
	}
	return nil
}
