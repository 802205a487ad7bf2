package llmqueue

import (
	"context"
	"fmt"
)

// attempt runs one attempt: Preprocess, Process, then Postprocess, each
// hook where the Processor implements it, all with the same job (call's
// copy of the stored one). An error from any of them goes through the
// ErrorClassifier, and a panic in any of them is an ordinary failure. It
// is the innermost Processor of the middleware chain.
//
// Preprocess (the Python base class's preprocess_request: fill a template,
// add a system prompt, pick a model) may rewrite job.Payload or any other
// field: the job is this attempt's own copy, so the rewrite is seen by this
// attempt's Process and Postprocess only. The stored payload is unchanged,
// the next attempt starts again from it, and the meter that settles the call
// is chosen from it, as the reservation was. Its error means what Process's
// would (Permanent, RateLimited, Retryable, Suspend); Process is then not
// called, nor when the attempt's ctx ended during Preprocess.
//
// Postprocess (postprocess_result: extract the answer, validate its shape)
// runs only after Process succeeded, with the job as Process saw it and
// Process's Result (an empty one when Process returned nil). Its Result
// replaces res as a whole, Usage and RateLimit included, so a hook that
// changes only the Output modifies res and returns it; nil keeps res. Its
// error is classified and then retried, dead, rate limited or suspended
// like Process's; the ledger books the attempt as a failed Process, so the
// Usage of the discarded Result is not booked.
func (b *BatchProcessor) attempt(ctx context.Context, job *Job) (res *Result, err error) {
	stage := "processor"
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("llmqueue: %s panicked: %v", stage, p)
		}
	}()
	if pre, ok := b.proc.(Preprocessor); ok {
		stage = "Preprocess"
		if err := pre.Preprocess(ctx, job); err != nil {
			return nil, b.classify(err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err // canceled or timed out during Preprocess: the cause decides
		}
	}
	stage = "processor"
	if res, err = b.proc.Process(ctx, job); err != nil {
		return res, b.classify(err)
	}
	if post, ok := b.proc.(Postprocessor); ok {
		stage = "Postprocess"
		if res == nil {
			res = &Result{}
		}
		out, err := post.Postprocess(ctx, job, res)
		if err != nil {
			return nil, b.classify(err)
		}
		if out != nil {
			res = out
		}
	}
	return res, nil
}

// classify passes a failed attempt's error through the Processor's
// ErrorClassifier, if it has one. A classifier that answers nil does not
// turn a failure into a success: the original error stands.
func (b *BatchProcessor) classify(err error) error {
	if c, ok := b.proc.(ErrorClassifier); ok {
		if cerr := c.ClassifyError(err); cerr != nil {
			return cerr
		}
	}
	return err
}

// HealthCheck runs the Processor's HealthChecker (nil without one) until ctx
// ends. It fits httpapi.WithHealthCheck("processor", bp.HealthCheck).
func (b *BatchProcessor) HealthCheck(ctx context.Context) error {
	// It returns when ctx ends even if the check ignores ctx (the check is
	// left to finish in the background), and a panic in the check is
	// returned as an error. It says nothing about Redis or leasing: Status
	// does.
	hc, ok := b.proc.(HealthChecker)
	if !ok {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("llmqueue: processor health check: %w", err)
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("HealthCheck panicked: %v", p)
			}
		}()
		done <- hc.HealthCheck(ctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("llmqueue: processor health check: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("llmqueue: processor health check: %w", context.Cause(ctx))
	}
}

// processorInfo returns the Processor's ProcessorInfo, nil when it does not
// implement it. A panic is reported in the map rather than passed to the
// caller of Status. (ProcessorInfo is the Python base class's
// get_processor_info; Status calls it every time and shows the map as
// processor_info, hence its rules: return at once, be safe for concurrent
// use, do not change the map afterwards, marshal to JSON.)
func (b *BatchProcessor) processorInfo() (info map[string]any) {
	pi, ok := b.proc.(ProcessorInfo)
	if !ok {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			info = map[string]any{"error": fmt.Sprintf("ProcessorInfo panicked: %v", p)}
		}
	}()
	return pi.ProcessorInfo()
}
