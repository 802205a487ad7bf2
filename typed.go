package llmqueue

import (
	"context"
	"encoding/json"
	"fmt"
)

// TypedProcessor returns a Processor that decodes each payload into an In,
// calls f and stores its Out (as JSON) and Usage; f's errors mean what
// Process's do. An undecodable payload fails permanently (ErrInvalidPayload).
func TypedProcessor[In, Out any](f func(ctx context.Context, job *Job, in In) (Out, Usage, error)) Processor {
	// Callers queue an In with NewRequest(in) (an In that is a Go string
	// excepted: NewRequest takes a string as JSON text) and read the Out
	// back with DecodeResult. Decoding follows encoding/json's rules
	// (unknown fields are ignored); an Out that cannot be marshalled fails
	// permanently too. f reads job.ResumeInput, job.State and job.Meta as
	// Process would; on an error its Out and Usage are ignored. For the
	// provider's rate-limit headers (Result.RateLimit), or for the optional
	// interfaces such as Preprocessor, implement Processor instead.
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

// DecodeResult decodes the result of a completed request, as Wait returns it,
// into a T (a TypedProcessor's Out). It fails with ErrInvalidState unless the
// request completed with a result.
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
