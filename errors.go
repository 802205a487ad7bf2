package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors, matched with errors.Is. Operations wrap them with their
// name and the request's ID: "llmqueue: status 123: request not found".
var (
	ErrNotFound       = errors.New("request not found")                       // no request with that ID, or it expired
	ErrOverBudget     = errors.New("estimate exceeds the usable token limit") // the estimate can never fit the budget
	ErrInvalidPayload = errors.New("invalid payload")                         // not JSON, or refused by the Validator
	ErrInvalidTokens  = errors.New("invalid token estimate")                  // negative or above MaxTokens
	ErrInvalidRequest = errors.New("invalid request")                         // an option, ID or meta out of range
	ErrDuplicateID    = errors.New("duplicate request id")                    // another request has that ID

	ErrCorrupt      = errors.New("corrupt request data")                // the stored request cannot be decoded
	ErrInvalidState = errors.New("operation not allowed in this state") // e.g. Resume on a completed request
	ErrStaleLease   = errors.New("stale lease")                         // the lease went to another worker
	ErrUnavailable  = errors.New("redis unavailable")                   // Redis down or too slow; retry later

	ErrClosed         = errors.New("processor closed")                         // the BatchProcessor is not running
	ErrAlreadyStarted = errors.New("processor already started")                // Start was called twice
	ErrWorkerIDInUse  = errors.New("worker id in use by another live process") // WorkerConfig.WorkerID is taken
)

// PermanentError marks a failure retrying cannot fix (bad request, auth): the
// request is dead-lettered at once. Make it with Permanent; Err is the cause.
type PermanentError struct{ Err error }

// Error reports the wrapped error as permanent.
func (e *PermanentError) Error() string { return "permanent: " + errString(e.Err) }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the request fails without retries.
func Permanent(err error) error { return &PermanentError{Err: err} }

// RateLimitedError reports a provider 429: the namespace pauses for RetryAfter
// and the request is queued again without spending a retry. See RateLimited.
type RateLimitedError struct {
	RetryAfter time.Duration  // the wait the provider asked for; 0 when it did not say
	Err        error          // the cause
	Info       *RateLimitInfo // the 429's limit headers, if any; booked like a success's
}

// Error reports the wait and the wrapped error.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited (retry after %s): %s", e.RetryAfter, errString(e.Err))
}

// Unwrap returns the wrapped error.
func (e *RateLimitedError) Unwrap() error { return e.Err }

// RateLimited wraps err as a provider rate limit with the wait it asked for.
func RateLimited(retryAfter time.Duration, err error) error {
	if retryAfter < 0 {
		retryAfter = 0
	}
	return &RateLimitedError{RetryAfter: retryAfter, Err: err}
}

// RetryableError marks a transient failure (5xx, timeout, network); any error
// not Permanent, RateLimited or Suspend is retried anyway. See Retryable.
type RetryableError struct {
	After time.Duration // least delay before the next attempt, when positive
	Err   error         // the cause
}

// Error reports the wrapped error as retryable.
func (e *RetryableError) Error() string { return "retryable: " + errString(e.Err) }

// Unwrap returns the wrapped error.
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable wraps err as a transient failure, retried no sooner than after.
func Retryable(after time.Duration, err error) error {
	return &RetryableError{After: after, Err: err}
}

// SuspendError parks a request until QueueManager.Resume; the next run gets
// State as Job.State and Resume's input as Job.ResumeInput. See Suspend.
type SuspendError struct {
	Reason string // shown as RequestStatus.SuspendReason
	State  []byte // saved with the request: JSON or nil
}

// Error reports the suspend reason.
func (e *SuspendError) Error() string { return "suspended: " + e.Reason }

// Suspend parks the request with a reason and saved state (JSON or nil).
func Suspend(reason string, state []byte) error {
	return &SuspendError{Reason: reason, State: state}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// redisUnavailable reports whether err means Redis could not be reached
// or did not answer in time (as opposed to a refused operation).
func redisUnavailable(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed)
}

// storeErr marks errors of an unreachable Redis with ErrUnavailable,
// keeping the cause in the chain.
func storeErr(err error) error {
	if err != nil && redisUnavailable(err) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// LimitError reports a size Add refused: payload (Config.MaxPayloadBytes),
// meta (256 entries, 64 KiB) or token estimate (MaxTokens). It matches Err.
type LimitError struct {
	What        string // what was measured, e.g. "payload bytes" or "meta entries"
	Size, Limit int64  // the request's size and the most allowed
	Err         error  // ErrInvalidPayload, ErrInvalidRequest or ErrInvalidTokens
}

// Error names the size and the limit.
func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s %d above the limit of %d", errString(e.Err), e.What, e.Size, e.Limit)
}

// Unwrap returns the sentinel.
func (e *LimitError) Unwrap() error { return e.Err }

// AddOutcomeUnknownError reports an Add or AddMany Redis did not answer: the
// requests may be stored, and then run. Adding them again under the same IDs
// is safe. It matches ErrUnavailable when Redis was down or slow.
type AddOutcomeUnknownError struct {
	ID  string   // the first request's ID: Add's
	IDs []string // every request's ID, in AddMany's order
	Err error    // the cause
}

// Error says the outcome is unknown and names the ID.
func (e *AddOutcomeUnknownError) Error() string {
	// The call reached for Redis but got no answer (a timeout, a dropped
	// connection, a canceled context). The IDs were fixed before the first
	// send, so adding the same requests again under them is safe: an
	// identical request already stored counts as added.
	more := ""
	if len(e.IDs) > 1 {
		more = fmt.Sprintf(" and %d more", len(e.IDs)-1)
	}
	return fmt.Sprintf("outcome unknown for request %s%s, it may have been queued (add it again with the same ID, or check its Status): %s",
		e.ID, more, errString(e.Err))
}

// Unwrap returns the cause.
func (e *AddOutcomeUnknownError) Unwrap() error { return e.Err }
