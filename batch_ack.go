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
	window := b.budget.ledgerWindow()
	retention := b.qm.cfg.retention.Milliseconds()
	var (
		op func(ctx context.Context) (string, error)
		fa redisstore.FailArgs
	)
	if perr == nil {
		if res == nil {
			res = &Result{}
		}
		out := []byte(res.Output)
		if len(out) > 0 && !json.Valid(out) {
			out, _ = json.Marshal(string(out)) // keep what the processor said, as a JSON string
		}
		u := res.Usage
		args := redisstore.CompleteArgs{ID: id, Token: token, Result: out, Settle: b.settlement(job, u),
			InTokens: capTokens(u.InputTokens), OutTokens: capTokens(u.OutputTokens),
			CacheRead: capTokens(u.CacheReadInputTokens), CacheWrite: capTokens(u.CacheCreationInputTokens),
			Feedback: b.feedback(res.RateLimit), Deployment: b.deploy}
		args.Model, args.CostNanoUSD = b.price(res.Model, u)
		op = func(context.Context) (string, error) {
			return string(StatusCompleted), b.completer.complete(args)
		}
	} else {
		fa = b.failure(job, perr)
		if job != nil && job.sent && fa.Kind != "ratelimit" {
			// The provider counted the call when it arrived: releasing
			// its reservation would let the queue spend it twice.
			fa.Settle = redisstore.Keep
		}
		fa.ID, fa.Token, fa.Window, fa.RetentionMS = id, token, window, retention
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
			if b.breaker != nil && perr == nil {
				b.breaker.ok()
			}
			b.st.record(Status(status), took)
			b.attempted(job, id, Status(status), res, perr, fa.Kind == "failover" && Status(status) == StatusQueued, took)
			b.logOutcome(job, id, Status(status), res, perr, fa, took)
			return
		}
		if errors.Is(err, redisstore.ErrStale) {
			b.st.staleAcks.Add(1)
			b.cfg.logger.Info("llmqueue: ack rejected, lease was recovered by another worker", "id", id)
			return
		}
		if time.Now().After(deadline) {
			// The last try may have landed with its reply lost: say what
			// is known, not that the request will run again.
			b.cfg.logger.Error("llmqueue: ack outcome unknown after retrying for a lease; if it did not land, the lease expires and another worker runs the request again",
				"id", id, "status", outcomeName(perr), "error", err)
			return
		}
		time.Sleep(outage.failed(err))
	}
}

// outcomeName names the outcome an ack was recording, for logs.
func outcomeName(perr error) string {
	if perr == nil {
		return string(StatusCompleted)
	}
	return "failed attempt"
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
			wait = b.cfg.rateLimitWait
		}
		// The provider did not take what it refused: release what its
		// meter says it kept, and book what its headers say it counted.
		return redisstore.FailArgs{Kind: "ratelimit", Message: msg, Delay: wait,
			Settle: b.refusal(job), Feedback: b.feedback(rl.Info)}
	case b.breaker != nil:
		// One deployment of several failed (a 5xx, a timeout, a refused
		// connection): it cools down and the request goes to another at
		// once, its retry unspent.
		var after time.Duration
		if errors.As(perr, &retr) {
			after = retr.After
		}
		return redisstore.FailArgs{Kind: "failover", Message: msg, Delay: b.breaker.failed(after)}
	case errors.As(perr, &retr):
		return redisstore.FailArgs{Kind: "retry", Message: msg, Delay: max(retr.After, b.cfg.backoff(attempt))}
	}
	return redisstore.FailArgs{Kind: "retry", Message: msg, Delay: b.cfg.backoff(attempt)}
}

// price returns the model a completed call is booked under and what it
// cost: the Result's model, else the Deployment's, at Config.Prices.
func (b *BatchProcessor) price(model string, u Usage) (string, int64) {
	if model == "" {
		model = b.model
	}
	if len(model) > 200 {
		model = model[:200]
	}
	p, ok := b.qm.cfg.prices[model]
	if !ok {
		return model, 0
	}
	return model, p.cost(u)
}

// meterFor returns the meter of a job's call: its Deployment's, else
// Config.Meter, else the Processor's when it implements Metered, else the
// manager's.
func (b *BatchProcessor) meterFor(job *Job) Meter {
	if b.meter != nil {
		return b.meter
	}
	if b.qm.cfg.meter != nil {
		return b.qm.cfg.meter
	}
	if m, ok := b.proc.(Metered); ok {
		if mm := m.MeterFor(job.Payload); mm != nil {
			return mm
		}
	}
	return b.qm.meterFor(job.Payload)
}

// settlement is what a completed call costs in the ledger: the meter's
// settle of the reservation, or the reservation as it is when the
// processor reported no usage.
func (b *BatchProcessor) settlement(job *Job, used Usage) redisstore.Charge {
	if job == nil || used.isZero() {
		return redisstore.Keep
	}
	return ledgerCharge(b.meterFor(job).Settle(job.Reserved, used))
}

// refusal is what a call the provider refused (429) costs in the ledger.
func (b *BatchProcessor) refusal(job *Job) redisstore.Charge {
	if job == nil {
		return redisstore.Keep
	}
	return ledgerCharge(b.meterFor(job).Refused(job.Reserved))
}

func ledgerCharge(c Charge) redisstore.Charge {
	c = c.clamp()
	return redisstore.Charge{Tokens: c.Tokens, InTokens: c.InputTokens, OutTokens: c.OutputTokens}
}

// feedback turns what the provider said about its window into what the
// ack script books: per dimension the queue enforces, the usable limit and
// the provider's remaining count. The provider's headers count all traffic
// on the key, so a remaining count below the room the ledger sees means
// the queue must hold back the difference.
func (b *BatchProcessor) feedback(info *RateLimitInfo) redisstore.Feedback {
	if info == nil {
		return redisstore.NoFeedback
	}
	bud := b.budget
	rem := func(n int64) int64 {
		if n < 0 {
			return -1
		}
		return capTokens(n)
	}
	// An unreported input or output dimension reads as 0 remaining in a
	// zero RateLimitInfo; only its stated limit says it was reported.
	remIf := func(stated, n int64) int64 {
		if stated <= 0 {
			return -1
		}
		return rem(n)
	}
	return redisstore.Feedback{
		LimitTokens: bud.UsableTokens(), RemainingTokens: rem(info.RemainingTokens),
		LimitRequests: bud.UsableRequests(), RemainingRequests: rem(info.RemainingRequests),
		LimitIn: bud.UsableInputTokens(), RemainingIn: remIf(info.LimitInputTokens, info.RemainingInputTokens),
		LimitOut: bud.UsableOutputTokens(), RemainingOut: remIf(info.LimitOutputTokens, info.RemainingOutputTokens),
	}
}
