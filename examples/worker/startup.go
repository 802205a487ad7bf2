package main

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// backoff paces the start-up retries: the first wait is first, each next
// one doubles up to max, and every wait is shortened by up to a fifth at
// random so that workers restarted together do not knock on Redis in step.
type backoff struct {
	first, max time.Duration
}

// startupBackoff is what the worker uses: 100ms, 200ms, ... up to 5s, the
// same ceiling a running worker's lease loop backs off to.
var startupBackoff = backoff{first: 100 * time.Millisecond, max: 5 * time.Second}

// wait returns the pause before retry n (1 for the first retry).
func (b backoff) wait(n int) time.Duration {
	d := b.first << min(n-1, 30)
	if d <= 0 || d > b.max {
		d = b.max
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// waitForRedis calls ping until it succeeds, so a worker started while
// Redis is down (or still starting) waits for it instead of exiting at
// once, as a running worker would. Every failure is logged with the
// attempt number and the pause before the next one. It returns nil once
// ping succeeds, or ctx's error (with the last ping error) once ctx ends:
// the caller cancels ctx on a signal or a start-up deadline. Each ping gets
// its own context bounded by opTimeout.
func waitForRedis(ctx context.Context, ping func(context.Context) error, opTimeout time.Duration,
	b backoff, log *slog.Logger) error {
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, opTimeout)
		err := ping(pctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Info("redis reachable; starting", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return &startupError{cause: context.Cause(ctx), last: err}
		}
		d := b.wait(attempt)
		log.Warn("redis unreachable at start-up; retrying", "attempt", attempt,
			"retry_in", d.Round(time.Millisecond).String(), "error", err.Error())
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return &startupError{cause: context.Cause(ctx), last: err}
		case <-t.C:
		}
	}
}

// startupError says why waitForRedis gave up and what Redis answered last.
type startupError struct {
	cause error // why ctx ended: a signal, the start-up deadline
	last  error // the last ping's error
}

// Error names both the reason for giving up and Redis's last answer.
func (e *startupError) Error() string {
	return "gave up waiting for redis (" + e.cause.Error() + "): " + e.last.Error()
}

// Unwrap returns both, so errors.Is finds context.DeadlineExceeded or the
// Redis error.
func (e *startupError) Unwrap() []error { return []error{e.cause, e.last} }
