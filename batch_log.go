package llmqueue

import (
	"context"
	"log/slog"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// The per-job log: one line per event of a request's life, none per poll.
// Started and completed are Debug (a busy worker runs thousands a minute);
// a retry, a 429 and its cool-down are Warn; a death is one Error line
// naming the request and why, written by the worker that recorded it, or
// by the one whose lease call found it (see logKilled). Durations are
// written as text ("1.25s"), which JSON handlers would otherwise turn into
// nanoseconds.

// logStarted logs a job handed to the Processor.
func (b *BatchProcessor) logStarted(job *Job) {
	l := b.cfg.logger
	if !l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.LogAttrs(context.Background(), slog.LevelDebug, "llmqueue: job started",
		slog.String("id", job.ID), slog.Int("attempt", job.Attempt), slog.String("worker", b.cfg.workerID),
		slog.String("class", string(job.Priority)), slog.Int64("estimated_tokens", job.EstimatedTokens),
		slog.String("queued_for", durationText(job.LeasedAt.Sub(job.CreatedAt))))
}

// logOutcome logs the outcome ack recorded: status is what the store
// made of it, fa the failure it was given (zero on success).
func (b *BatchProcessor) logOutcome(job *Job, id string, status Status, res *Result, perr error, fa redisstore.FailArgs, took time.Duration) {
	l, ctx := b.cfg.logger, context.Background()
	if status == StatusCompleted && !l.Enabled(ctx, slog.LevelDebug) {
		return // the common case costs no allocation
	}
	attrs := []slog.Attr{slog.String("id", id), slog.String("worker", b.cfg.workerID), slog.String("duration", durationText(took))}
	if b.deploy != "" {
		attrs = append(attrs, slog.String("deployment", b.deploy))
	}
	if job != nil {
		attrs = append(attrs, slog.Int("attempt", job.Attempt), slog.String("class", string(job.Priority)))
	}
	cause := ""
	if perr != nil {
		cause = perr.Error()
	}
	switch {
	case status == StatusCompleted:
		var u Usage
		if res != nil {
			u = res.Usage
		}
		attrs = append(attrs, slog.Int64("input_tokens", u.InputTokens+u.CacheReadInputTokens+u.CacheCreationInputTokens),
			slog.Int64("output_tokens", u.OutputTokens))
		l.LogAttrs(ctx, slog.LevelDebug, "llmqueue: job completed", attrs...)
	case status == StatusDead:
		l.LogAttrs(ctx, slog.LevelError, "llmqueue: request died", append(attrs, slog.String("cause", cause))...)
	case fa.Kind == "failover" && status == StatusQueued:
		l.LogAttrs(ctx, slog.LevelWarn, "llmqueue: deployment failed: request handed to another deployment, and this one cools down",
			append(attrs, slog.String("cooldown", durationText(fa.Delay)), slog.String("error", cause))...)
	case fa.Kind == "ratelimit":
		l.LogAttrs(ctx, slog.LevelWarn, "llmqueue: provider rate limit (429): requeued, and every worker of the namespace cools down",
			append(attrs, slog.String("cooldown", durationText(fa.Delay)), slog.String("error", cause))...)
	case status == StatusRetrying:
		l.LogAttrs(ctx, slog.LevelWarn, "llmqueue: attempt failed; retry scheduled",
			append(attrs, slog.String("retry_in", durationText(fa.Delay)), slog.String("error", cause))...)
	case status == StatusSuspended:
		l.LogAttrs(ctx, slog.LevelInfo, "llmqueue: job suspended", append(attrs, slog.String("reason", fa.Message))...)
	case status == StatusCanceled:
		l.LogAttrs(ctx, slog.LevelInfo, "llmqueue: job canceled", attrs...)
	case fa.Kind == "release":
		l.LogAttrs(ctx, slog.LevelInfo, "llmqueue: job handed back to the queue at shutdown", attrs...)
	}
}

// logKilled logs the requests a lease call put to death: their worker
// died with their retries spent, or they can never run.
func (b *BatchProcessor) logKilled(killed []redisstore.Killed) {
	for _, k := range killed {
		b.cfg.logger.LogAttrs(context.Background(), slog.LevelError, "llmqueue: request died",
			slog.String("id", k.ID), slog.String("worker", b.cfg.workerID), slog.String("cause", k.Reason))
	}
}

// durationText writes d rounded for reading: to the millisecond from a
// second up, to the microsecond below.
func durationText(d time.Duration) string {
	if d >= time.Second || d <= -time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}
