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

// Sentinel errors that callers branch on with errors.Is. The operations
// wrap them with their name and the request's ID, e.g.
// "llmqueue: status 123: request not found".
var (
	// ErrNotFound means no request with that ID exists (or it expired).
	ErrNotFound = errors.New("request not found")
	// ErrOverBudget means the request's estimate exceeds the usable token
	// limit, so it could never run.
	ErrOverBudget = errors.New("estimate exceeds the usable token limit")
	// ErrInvalidPayload means the payload is not valid JSON or was refused
	// by the Validator.
	ErrInvalidPayload = errors.New("invalid payload")
	// ErrInvalidTokens means a negative token estimate.
	ErrInvalidTokens = errors.New("invalid token estimate")
	// ErrInvalidRequest means a request option is out of range (for example
	// negative retries or timeout).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrDuplicateID means a request with that ID is already stored.
	ErrDuplicateID = errors.New("duplicate request id")
	// ErrCorrupt means the request's hash in Redis could not be decoded.
	ErrCorrupt = errors.New("corrupt request data")
	// ErrInvalidState means the operation does not apply to the request's
	// current status (for example Resume on a completed request).
	ErrInvalidState = errors.New("operation not allowed in this state")
	// ErrStaleLease means an ack came from a lease that was recovered and
	// given to another worker; the ack is rejected.
	ErrStaleLease = errors.New("stale lease")
	// ErrUnavailable means Redis did not answer: down, unreachable, or
	// slower than the manager's operation timeout. Retry later.
	ErrUnavailable = errors.New("redis unavailable")
	// ErrClosed means the BatchProcessor is shut down or not started.
	ErrClosed = errors.New("processor closed")
	// ErrAlreadyStarted means Start was called twice.
	ErrAlreadyStarted = errors.New("processor already started")
	// ErrWorkerIDInUse means another live process is registered under the
	// worker id given as WorkerConfig.WorkerID. Two processes sharing an id would
	// share its idempotency keys; give each its own id.
	ErrWorkerIDInUse = errors.New("worker id in use by another live process")
)

// PermanentError marks a failure that retrying cannot fix (bad request,
// authentication). The request goes to the dead letters at once. It is
// exported for test assertions with errors.As.
type PermanentError struct{ Err error }

// Error reports the wrapped error as permanent.
func (e *PermanentError) Error() string { return "permanent: " + errString(e.Err) }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the request fails without retries.
func Permanent(err error) error { return &PermanentError{Err: err} }

// RateLimitedError reports a provider 429. RetryAfter is how long the
// provider asked to wait (zero when it did not say); every worker of the
// namespace pauses that long and the request is queued again without
// spending a retry.
type RateLimitedError struct {
	RetryAfter time.Duration
	Err        error
	// Info is what the 429's headers said about the provider's limits,
	// when they said anything; the queue books it like a success's.
	Info *RateLimitInfo
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

// RetryableError marks a transient failure explicitly (5xx, timeouts,
// network errors). Any error that is not Permanent, RateLimited or Suspend
// is retried too; Retryable exists so adapters can say so and set a minimum
// delay.
type RetryableError struct {
	After time.Duration
	Err   error
}

// Error reports the wrapped error as retryable.
func (e *RetryableError) Error() string { return "retryable: " + errString(e.Err) }

// Unwrap returns the wrapped error.
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable wraps err as a transient failure; after, when positive, is the
// least delay before the next attempt.
func Retryable(after time.Duration, err error) error {
	return &RetryableError{After: after, Err: err}
}

// SuspendError parks a request until QueueManager.Resume: a human has to
// approve or answer. State is saved with the request and handed back to
// the processor (Job.State) when it runs again with the human's input
// (Job.ResumeInput).
type SuspendError struct {
	Reason string
	State  []byte
}

// Error reports the suspend reason.
func (e *SuspendError) Error() string { return "suspended: " + e.Reason }

// Suspend returns an error that parks the request with a reason and optional
// saved state (JSON or nil).
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

// LimitError reports a request that Add refused because one of its sizes
// is outside the documented range: the payload (Config.MaxPayloadBytes), the
// meta (256 entries, 64 KiB) or a token estimate (MaxTokens). It
// matches its sentinel, Err, with errors.Is: ErrInvalidPayload,
// ErrInvalidRequest or ErrInvalidTokens. It is exported for errors.As.
type LimitError struct {
	// What names what was measured, e.g. "payload bytes" or "meta entries".
	What string
	// Size is what the request had; Limit is the most allowed.
	Size, Limit int64
	// Err is the sentinel the error matches.
	Err error
}

// Error names the size and the limit.
func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s %d above the limit of %d", errString(e.Err), e.What, e.Size, e.Limit)
}

// Unwrap returns the sentinel.
func (e *LimitError) Unwrap() error { return e.Err }

// AddOutcomeUnknownError reports an Add or AddMany whose call reached for
// Redis but got no answer (a timeout, a dropped connection, a canceled
// context): the requests may or may not be stored, and stored requests run.
// IDs are their IDs, fixed before the first send. Adding the same requests
// again under those IDs is safe, because an identical request already
// stored counts as added; or ask Status. When Redis was unreachable or slow
// the error also matches ErrUnavailable with errors.Is.
type AddOutcomeUnknownError struct {
	// ID is the first request's ID: Add's.
	ID string
	// IDs are every request's ID, in the order given to AddMany.
	IDs []string
	// Err is the cause.
	Err error
}

// Error says the outcome is unknown and names the ID.
func (e *AddOutcomeUnknownError) Error() string {
	more := ""
	if len(e.IDs) > 1 {
		more = fmt.Sprintf(" and %d more", len(e.IDs)-1)
	}
	return fmt.Sprintf("outcome unknown for request %s%s, it may have been queued (add it again with the same ID, or check its Status): %s",
		e.ID, more, errString(e.Err))
}

// Unwrap returns the cause.
func (e *AddOutcomeUnknownError) Unwrap() error { return e.Err }
