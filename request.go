package llmqueue

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Priority is a request's size class. Classes are served in a cycle (3 low,
// 2 medium, 1 long by default) so one huge prompt cannot starve small ones.
type Priority string

// The three size classes.
const (
	PriorityLow    Priority = "low"
	PriorityMedium Priority = "medium"
	PriorityLong   Priority = "long"
)

// priorities lists the classes in cycle order.
var priorities = []Priority{PriorityLow, PriorityMedium, PriorityLong}

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

// Thresholds classifies token estimates; a zero value uses the defaults.
type Thresholds struct {
	LowMax    int64 // the largest low estimate; default 14,999
	MediumMax int64 // the largest medium estimate; default 75,000
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

// Status is a request's place in its lifecycle: queued, active, then
// completed, retrying (queued after a backoff), dead (until Requeue) or
// suspended (until Resume). A status that is not Terminal can be canceled.
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

// Terminal reports whether s is completed, dead or canceled.
func (s Status) Terminal() bool {
	// The lifecycle:
	//
	//	queued -> active -> completed
	//	             |  -> retrying (backoff) -> queued
	//	             |  -> dead (retries spent or permanent error) -> queued via Requeue
	//	             |  -> suspended (awaiting input) -> queued via Resume
	//	queued/retrying/suspended/active -> canceled
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

// Request is one unit of work: a JSON payload and its token estimate. Build it
// with NewRequest and its options (estimates set on the fields are ignored).
type Request struct {
	ID              string          // WithID; empty gets a new ID at Add
	Payload         json.RawMessage // the JSON payload
	EstimatedTokens int64           // WithEstimatedTokens, or the sum of EstimatedUsage
	EstimatedUsage  Usage           // WithEstimatedUsage: the estimate split into input and output
	// estimated reports whether EstimatedTokens was set by the caller.
	estimated bool
	// split reports whether EstimatedUsage was set by the caller.
	split      bool
	MaxRetries int            // WithMaxRetries; default 3
	Timeout    time.Duration  // WithTimeout; 0: WorkerConfig.JobTimeout
	Meta       map[string]any // WithMeta
	Priority   Priority       // WithPriority; empty classifies the estimate
	err        error
}

// RequestOption configures a Request.
type RequestOption func(*Request)

// NewRequest builds a request from a payload: json.RawMessage, []byte and
// string are JSON text (NewRequest(`{"a":1}`) queues an object), the rest is
// marshalled. Add refuses invalid JSON, null, or over Config.MaxPayloadBytes.
func NewRequest(payload any, opts ...RequestOption) *Request {
	// A Go string is JSON text too, not marshalled: text meant as a JSON
	// string must be marshalled first. Nothing is checked here; errors
	// surface from QueueManager.Add (see validate), never as a panic.
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

// WithID sets the request's ID (default: a new time-ordered random ID): up to
// 200 bytes of UTF-8, no control characters. Adding the same request again
// succeeds, so Add can be retried; a different one fails with ErrDuplicateID.
func WithID(id string) RequestOption { return func(r *Request) { r.ID = id } }

// WithEstimatedTokens sets the token estimate that is classified and
// reserved; without it the manager's Estimator is asked.
func WithEstimatedTokens(n int64) RequestOption {
	return func(r *Request) { r.EstimatedTokens, r.estimated = n, true }
}

// WithEstimatedUsage sets the estimate split into input tokens and the output
// allowance (max_tokens), for split budgets; EstimatedTokens is their sum.
func WithEstimatedUsage(u Usage) RequestOption {
	return func(r *Request) {
		r.EstimatedUsage, r.split = u, true
		r.EstimatedTokens, r.estimated = addTokensSat(u.InputTokens, u.OutputTokens), true
	}
}

// WithMaxRetries sets how many times a failed attempt is retried (default 3).
func WithMaxRetries(n int) RequestOption { return func(r *Request) { r.MaxRetries = n } }

// WithTimeout sets an attempt's time limit (default WorkerConfig.JobTimeout).
func WithTimeout(d time.Duration) RequestOption { return func(r *Request) { r.Timeout = d } }

// WithPriority queues the request in class p (low, medium or long) whatever
// its estimate; the estimate still decides what the budget reserves.
func WithPriority(p Priority) RequestOption { return func(r *Request) { r.Priority = p } }

// deploymentsMetaKey is the meta key WithDeployments sets; the lease
// script reads it.
const deploymentsMetaKey = "llmqueue.deployments"

// WithDeployments pins the request to the named deployments of a Router
// (data residency, a model family): the others leave it alone. The pin is
// the meta value "llmqueue.deployments"; a BatchProcessor outside a Router
// ignores it. A name that no deployment has leaves the request queued.
func WithDeployments(names ...string) RequestOption {
	return func(r *Request) {
		WithMeta(map[string]any{deploymentsMetaKey: append([]string(nil), names...)})(r)
	}
}

// WithMeta sets initial meta values, visible through Status: small labels,
// at most 256 keys and 64 KiB of JSON in all.
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
	// WithPriority overrides the class only, like the Python package's
	// task_type (a short prompt that must wait behind the long ones, or a
	// large one that should not): the estimate still decides what the budget
	// reserves, so an override never lets a request spend more than it is
	// charged.
	if r.Priority != "" && !r.Priority.valid() {
		return fmt.Errorf("%w: priority %q is not low, medium or long", ErrInvalidRequest, r.Priority)
	}
	if r.MaxRetries < 0 {
		return fmt.Errorf("%w: max retries %d is negative", ErrInvalidRequest, r.MaxRetries)
	}
	if r.Timeout < 0 {
		return fmt.Errorf("%w: timeout %s is negative", ErrInvalidRequest, r.Timeout)
	}
	if err := validPins(r.Meta); err != nil {
		return err
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

// validPins checks the deployments a request is pinned to (WithDeployments).
func validPins(meta map[string]any) error {
	v, ok := meta[deploymentsMetaKey]
	if !ok {
		return nil
	}
	names, ok := v.([]string)
	if !ok || len(names) == 0 || len(names) > 64 {
		return fmt.Errorf("%w: meta %q: want 1-64 deployment names (WithDeployments)", ErrInvalidRequest, deploymentsMetaKey)
	}
	for _, n := range names {
		if !deploymentName.MatchString(n) {
			return fmt.Errorf("%w: pinned deployment %q: want 1-64 of [A-Za-z0-9._-]", ErrInvalidRequest, n)
		}
	}
	return nil
}
