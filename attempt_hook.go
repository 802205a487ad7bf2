package llmqueue

import (
	"runtime/debug"
	"time"
)

// attempted calls the attempt hooks, in the order WorkerConfig.AttemptHooks gave
// them, with the event of an attempt whose outcome was recorded. Each hook
// runs under its own recover: a hook that panics is logged with its stack
// and skipped, and the hooks after it still run. Without the recover, the
// panic would end the whole process, since hooks run on a worker
// goroutine.
func (b *BatchProcessor) attempted(job *Job, id string, status Status, res *Result, perr error, failedOver bool, took time.Duration) {
	if len(b.cfg.attemptHooks) == 0 {
		return
	}
	ev := AttemptEvent{ID: id, Status: status, Duration: took, Err: perr, Deployment: b.deploy, FailedOver: failedOver}
	if job != nil {
		ev.Priority, ev.Attempt, ev.Estimated = job.Priority, job.Attempt, job.EstimatedTokens
	}
	if perr == nil && res != nil {
		ev.Usage = res.Usage
	}
	for i, h := range b.cfg.attemptHooks {
		b.callAttemptHook(i, h, ev)
	}
}

func (b *BatchProcessor) callAttemptHook(i int, h func(AttemptEvent), ev AttemptEvent) {
	defer func() {
		if p := recover(); p != nil {
			b.cfg.logger.Error("llmqueue: attempt hook panicked; the worker goes on",
				"hook", i, "id", ev.ID, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	h(ev)
}
