package llmqueue

import (
	"context"
	"encoding/json"
	"fmt"
)

// TypedProcessor returns a Processor that decodes each job's payload into
// an In, calls f, and stores the Out it returns, marshalled to JSON, as
// the request's result, with the Usage it returns. Callers queue an In
// with NewRequest(in) (an In that is a Go string excepted: NewRequest
// takes a string as JSON text) and read the Out back with DecodeResult.
//
// A payload that does not decode into In (encoding/json's rules: unknown
// fields are ignored) fails the request at once: the error is Permanent
// and matches ErrInvalidPayload. So does an Out that cannot be
// marshalled. An error from f means what it means from Process:
// Permanent, RateLimited, Retryable and Suspend work, and f reads
// job.ResumeInput, job.State and job.Meta as Process would; its Out and
// Usage are then ignored.
//
// For the provider's rate-limit headers (Result.RateLimit), or for the
// optional interfaces such as Preprocessor, implement Processor instead.
func TypedProcessor[In, Out any](f func(ctx context.Context, job *Job, in In) (Out, Usage, error)) Processor {
	return ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
		var in In
		if err := json.Unmarshal(job.Payload, &in); err != nil {
			return nil, Permanent(fmt.Errorf("%w: decode into %T: %w", ErrInvalidPayload, in, err))
		}
		out, usage, err := f(ctx, job, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, Permanent(fmt.Errorf("%w: encode %T result: %w", ErrInvalidPayload, out, err))
		}
		return &Result{Output: b, Usage: usage}, nil
	})
}

// DecodeResult decodes a completed request's result into a T: the Out of
// a TypedProcessor, or any processor's Output. Pair it with Wait:
//
//	st, err := qm.Wait(ctx, id)
//	...
//	summary, err := llmqueue.DecodeResult[Summary](st)
//
// It fails with ErrInvalidState, naming the status and the request's
// error, when the request is not completed (dead, canceled, or not yet
// finished), and when a completed request has no result.
func DecodeResult[T any](st *RequestStatus) (T, error) {
	var out T
	switch {
	case st == nil:
		return out, fmt.Errorf("llmqueue: decode result: nil status")
	case st.Status != StatusCompleted && st.Error != "":
		return out, fmt.Errorf("llmqueue: result of %s: %w: request is %s: %s", st.ID, ErrInvalidState, st.Status, st.Error)
	case st.Status != StatusCompleted:
		return out, fmt.Errorf("llmqueue: result of %s: %w: request is %s", st.ID, ErrInvalidState, st.Status)
	case len(st.Result) == 0:
		return out, fmt.Errorf("llmqueue: result of %s: %w: completed without a result", st.ID, ErrInvalidState)
	}
	if err := json.Unmarshal(st.Result, &out); err != nil {
		return out, fmt.Errorf("llmqueue: result of %s: decode into %T: %w", st.ID, out, err)
	}
	return out, nil
}
