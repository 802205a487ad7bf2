package llmqueue

import (
	"context"
	"fmt"
)

// Middleware wraps a Processor in another, as net/http middleware wraps a
// Handler: logging, tracing, metrics, a semaphore per model. It returns
// the Processor the BatchProcessor calls instead of next; that Processor
// calls next.Process to run the attempt (or returns without calling it to
// fail the attempt). Give middleware to a BatchProcessor with
// WorkerConfig.Middleware.
//
// A middleware sees each attempt whole: the job is the attempt's own copy
// (see Preprocessor), next runs the wrapped processor's Preprocess,
// Process and Postprocess, and next's error has already been through the
// processor's ErrorClassifier, so errors.As finds a PermanentError or a
// RateLimitedError there. A panic in the processor or its hooks reaches
// the middleware as an error; a panic in a middleware fails the attempt
// like any other.
//
// An error the middleware returns itself is not classified: wrap it in
// Permanent, RateLimited, Retryable or Suspend to say what it means.
//
// The optional interfaces (ErrorClassifier, Preprocessor, Postprocessor,
// HealthChecker, ProcessorInfo, Metered) are looked up on the Processor
// given to NewBatchProcessor, never on what a middleware returns: a
// middleware need not forward them, and cannot replace them.
type Middleware func(next Processor) Processor

// chainMiddleware returns the attempt wrapped in mw, mw[0] outermost.
func chainMiddleware(attempt Processor, mw []Middleware) (Processor, error) {
	p := attempt
	for i := len(mw) - 1; i >= 0; i-- {
		if mw[i] == nil {
			return nil, fmt.Errorf("llmqueue: middleware %d is nil", i)
		}
		if p = mw[i](p); p == nil {
			return nil, fmt.Errorf("llmqueue: middleware %d returned a nil Processor", i)
		}
	}
	return p, nil
}

// call runs one attempt through the middleware chain. The chain sees one
// copy of job, so a payload Preprocess rewrites is this attempt's alone;
// the caller keeps the job as stored, for the ack and the meter. A panic
// in a middleware is an ordinary failure.
func (b *BatchProcessor) call(ctx context.Context, job *Job) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("llmqueue: middleware panicked: %v", p)
		}
	}()
	attempt := *job
	return b.cfg.chain.Process(ctx, &attempt)
}
