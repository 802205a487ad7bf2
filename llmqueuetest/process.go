package llmqueuetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/llmqueue/llmqueue"
	"github.com/redis/go-redis/v9"
)

// Attempt is what a BatchProcessor made of one attempt: ProcessOnce's
// answer.
type Attempt struct {
	// Result is what the attempt returned, as the BatchProcessor recorded
	// it: Output as stored (after Postprocess, if the Processor has one)
	// and Usage. RateLimit is not kept. Nil when Err is not.
	Result *llmqueue.Result
	// Err is the attempt's error exactly as the BatchProcessor acted on
	// it: after the Processor's ErrorClassifier, a panic turned into an
	// error, a timeout wrapped as "attempt timed out". Check it with
	// errors.As for *llmqueue.PermanentError, *llmqueue.RateLimitedError,
	// *llmqueue.RetryableError or *llmqueue.SuspendError. Nil on success.
	Err error
	// Request is the request as stored after the attempt. Its Status is
	// what the queue made of the outcome: completed; dead (Permanent, or
	// retries spent); retrying (any other error, while retries remain);
	// suspended (Suspend); queued (RateLimited: queued again, no retry
	// spent). Its Error is the message a failure left.
	Request *llmqueue.RequestStatus
}

// ProcessOnce runs one attempt of req through proc exactly as a
// BatchProcessor runs it, and reports what the BatchProcessor made of it:
// the Processor's hooks (Preprocess, Postprocess), its ErrorClassifier, a
// panic, the request's timeout (llmqueue.WithTimeout) and its estimate and
// reservation (Job.Reserved) all act as they do in production, since a
// real BatchProcessor runs the attempt, on an embedded miniredis of its
// own that ProcessOnce stops before it returns. proc runs once: a failed
// attempt is not retried.
//
// opts are those of New: WithManagerConfig (an Estimator, a Validator, a
// Budget), WithWorkerConfig and WithWaitTimeout, which bounds the whole
// call as ctx does. The processor runs with concurrency 1 and an attempt
// hook of ProcessOnce's own, which replace any given in the batch options.
// WithClient is refused: the attempt needs a Redis no other code uses.
//
// The error is not the attempt's (that is Attempt.Err): it says the
// attempt could not be run, for example Add refused req (an invalid
// payload, a Validator's refusal) or no attempt finished in time.
func ProcessOnce(ctx context.Context, proc llmqueue.Processor, req *llmqueue.Request, opts ...Option) (*Attempt, error) {
	cfg := newConfig(opts)
	switch {
	case proc == nil || req == nil:
		return nil, errors.New("llmqueuetest: process once: nil Processor or Request")
	case cfg.client != nil:
		return nil, errors.New("llmqueuetest: process once: WithClient does not apply, the attempt runs on an embedded Redis of its own")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.waitTimeout)
	defer cancel()

	mr, err := miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("llmqueuetest: process once: embedded miniredis: %w", err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	qm, err := llmqueue.NewQueueManager(rdb, cfg.managerConfig())
	if err != nil {
		return nil, fmt.Errorf("llmqueuetest: process once: %w", err)
	}
	defer qm.Close()

	events := make(chan llmqueue.AttemptEvent, 1)
	hook := func(ev llmqueue.AttemptEvent) {
		// With one slot, the processor leases again only after this hook
		// returns, and then finds the namespace paused: proc runs once.
		pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = qm.PauseProcessing(pctx)
		pcancel()
		select {
		case events <- ev:
		default:
		}
	}
	wc := cfg.workerConfig(nil)
	wc.Concurrency = 1
	wc.AttemptHooks = append(append([]func(llmqueue.AttemptEvent){}, wc.AttemptHooks...), hook)
	bp, err := llmqueue.NewBatchProcessor(qm, proc, wc)
	if err != nil {
		return nil, fmt.Errorf("llmqueuetest: process once: %w", err)
	}
	id, err := qm.Add(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("llmqueuetest: process once: %w", err)
	}
	if err := bp.Start(ctx); err != nil {
		return nil, fmt.Errorf("llmqueuetest: process once: %w", err)
	}
	grace := ShutdownTimeout
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), grace)
		defer scancel()
		_ = bp.Shutdown(sctx)
	}()

	var ev llmqueue.AttemptEvent
	select {
	case ev = <-events:
	case <-ctx.Done():
		grace = 0 // cancel the attempt at once: its outcome no longer matters
		return nil, fmt.Errorf("llmqueuetest: process once: no attempt of request %s finished: %w", id, ctx.Err())
	}
	st, err := qm.Status(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("llmqueuetest: process once: %w", err)
	}
	a := &Attempt{Err: ev.Err, Request: st}
	if ev.Err == nil {
		a.Result = &llmqueue.Result{Output: st.Result, Usage: ev.Usage}
	}
	return a, nil
}
