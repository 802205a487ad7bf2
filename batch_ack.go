package llmqueue

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// ack records an attempt's outcome. Redis errors are retried until the
// lease would have expired anyway: after that the request is recovered by
// another worker and this ack would be stale.
func (b *BatchProcessor) ack(job *Job, id, token string, res *Result, perr error, took time.Duration) {
	if errors.Is(perr, errLeaseLost) {
		b.st.staleAcks.Add(1)
		b.cfg.logger.Debug("llmqueue: lease lost to another worker; outcome dropped", "id", id)
		return
	}
	window := b.qm.cfg.budget.ledgerWindow()
	retention := b.qm.cfg.retention.Milliseconds()
	var op func(ctx context.Context) (string, error)
	if perr == nil {
		if res == nil {
			res = &Result{}
		}
		used := int64(-1)
		if t := res.Usage.Total(); t > 0 {
			used = t
		}
		out := []byte(res.Output)
		if len(out) > 0 && !json.Valid(out) {
			out, _ = json.Marshal(string(out)) // keep what the processor said, as a JSON string
		}
		args := redisstore.CompleteArgs{ID: id, Token: token, Result: out, Used: used,
			InTokens: res.Usage.InputTokens, OutTokens: res.Usage.OutputTokens}
		op = func(context.Context) (string, error) {
			return string(StatusCompleted), b.completer.complete(args)
		}
	} else {
		fa := b.failure(job, perr)
		fa.ID, fa.Token, fa.Window, fa.RetentionMS, fa.Used = id, token, window, retention, -1
		fa.MaxRateLimited = b.cfg.maxRateLimited
		op = func(ctx context.Context) (string, error) { return b.store.Fail(ctx, fa) }
	}

	deadline := time.Now().Add(b.cfg.lease)
	outage := newOutageTracker(b.cfg.logger, "ack")
	for {
		ctx, cancel := context.WithTimeout(context.Background(), b.qm.cfg.opTimeout)
		status, err := op(ctx)
		cancel()
		if err == nil {
			outage.ok()
			b.st.record(Status(status), took)
			if h := b.cfg.attemptHook; h != nil {
				ev := AttemptEvent{ID: id, Status: Status(status), Duration: took, Err: perr}
				if job != nil {
					ev.Priority, ev.Attempt, ev.Estimated = job.Priority, job.Attempt, job.EstimatedTokens
				}
				if perr == nil {
					ev.Usage = res.Usage
				}
				h(ev)
			}
			if perr == nil && res != nil && res.RateLimit != nil {
				b.applyRateLimit(res.RateLimit)
			}
			return
		}
		if errors.Is(err, redisstore.ErrStale) {
			b.st.staleAcks.Add(1)
			b.cfg.logger.Info("llmqueue: ack rejected, lease was recovered by another worker", "id", id)
			return
		}
		if time.Now().After(deadline) {
			b.cfg.logger.Error("llmqueue: giving up on ack; the lease will expire and the request run again",
				"id", id, "error", err)
			return
		}
		time.Sleep(outage.failed(err))
	}
}

// failure maps a processor error to what the fail script does with it.
func (b *BatchProcessor) failure(job *Job, perr error) redisstore.FailArgs {
	attempt := 1
	if job != nil {
		attempt = job.Attempt
	}
	msg := perr.Error()
	if msg == "" {
		msg = "processor returned an error with an empty message"
	}
	var (
		susp *SuspendError
		perm *PermanentError
		rl   *RateLimitedError
		retr *RetryableError
	)
	switch {
	case errors.Is(perr, errCanceledByUser):
		return redisstore.FailArgs{Kind: "canceled", Message: msg}
	case errors.Is(perr, errShutdown):
		return redisstore.FailArgs{Kind: "release", Message: msg}
	case errors.As(perr, &susp):
		return redisstore.FailArgs{Kind: "suspend", Message: susp.Reason, State: susp.State}
	case errors.As(perr, &perm):
		return redisstore.FailArgs{Kind: "permanent", Message: msg}
	case errors.As(perr, &rl):
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = DefaultRateLimitWait
		}
		return redisstore.FailArgs{Kind: "ratelimit", Message: msg, Delay: wait}
	case errors.As(perr, &retr):
		return redisstore.FailArgs{Kind: "retry", Message: msg, Delay: max(retr.After, b.cfg.backoff(attempt))}
	}
	return redisstore.FailArgs{Kind: "retry", Message: msg, Delay: b.cfg.backoff(attempt)}
}

// applyRateLimit books what the provider says is already spent, in terms
// of the provider's full limits (its headers count all traffic on the key).
func (b *BatchProcessor) applyRateLimit(info *RateLimitInfo) {
	bud := b.qm.cfg.budget
	var cool time.Duration
	if info.RemainingRequests == 0 {
		cool = max(cool, info.ResetRequests)
	}
	if info.RemainingTokens == 0 {
		cool = max(cool, info.ResetTokens)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.qm.cfg.opTimeout)
	defer cancel()
	err := b.store.Adjust(ctx, bud.ledgerWindow().Milliseconds(), bud.TPM, info.RemainingTokens,
		bud.RPM, info.RemainingRequests, cool.Milliseconds())
	if err != nil {
		b.cfg.logger.Warn("llmqueue: could not apply provider rate-limit feedback", "error", err)
	}
}
