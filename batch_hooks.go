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

// HealthCheck asks the Processor whether it can work: it calls the
// Processor's HealthCheck when it implements HealthChecker and returns nil
// when it does not. It returns when ctx ends even if the check ignores ctx
// (the check is left to finish in the background), and a panic in the
// check is returned as an error. It says nothing about Redis or leasing:
// Status does. The method value fits httpapi.WithHealthCheck:
//
//	httpapi.WithHealthCheck("processor", bp.HealthCheck)
func (b *BatchProcessor) HealthCheck(ctx context.Context) error {
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
// caller of Status.
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
