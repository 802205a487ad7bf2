package llmqueue

import (
	"context"
	"fmt"
)

// Middleware wraps a Processor, as net/http middleware wraps a Handler; set it
// in WorkerConfig.Middleware. next runs the whole attempt and classifies its
// errors, but not the middleware's own (wrap them in Permanent and the like).
type Middleware func(next Processor) Processor

// chainMiddleware returns the attempt wrapped in mw, mw[0] outermost.
//
// A middleware sees each attempt whole: the job is the attempt's own copy
// (see call), next runs the wrapped processor's Preprocess, Process and
// Postprocess, and next's error has already been through the processor's
// ErrorClassifier, so errors.As finds a PermanentError or a
// RateLimitedError there. An error the middleware returns itself is not
// classified. A middleware may return without calling next to fail the
// attempt. The optional interfaces (ErrorClassifier, Preprocessor,
// Postprocessor, HealthChecker, ProcessorInfo, Metered) are looked up on
// the Processor given to NewBatchProcessor, never on what a middleware
// returns: a middleware need not forward them, and cannot replace them.
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
// in a middleware is an ordinary failure; a panic in the processor or its
// hooks reaches the middleware as an error (see attempt).
func (b *BatchProcessor) call(ctx context.Context, job *Job) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("llmqueue: middleware panicked: %v", p)
		}
	}()
	attempt := *job
	return b.cfg.chain.Process(ctx, &attempt)
}
