package llmqueue

import (
	"log/slog"
	"time"
)

// outageTracker logs a Redis outage once when it starts and once when it
// ends, and paces retries with exponential backoff so a worker does not
// spin the CPU while Redis is down.
type outageTracker struct {
	logger *slog.Logger
	what   string
	fails  int
	since  time.Time
}

func newOutageTracker(l *slog.Logger, what string) *outageTracker {
	return &outageTracker{logger: l, what: what}
}

// failed records a failure and returns how long to wait before retrying.
func (o *outageTracker) failed(err error) time.Duration {
	if o.fails == 0 {
		o.since = time.Now()
		o.logger.Warn("llmqueue: redis unavailable, backing off", "op", o.what, "error", err)
	}
	o.fails++
	d := 50 * time.Millisecond << min(o.fails-1, 7) // 50ms .. 6.4s
	return min(d, 5*time.Second)
}

// ok records a success, logging the end of an outage.
func (o *outageTracker) ok() {
	if o.fails > 0 {
		o.logger.Info("llmqueue: redis reachable again", "op", o.what, "down_for", time.Since(o.since).Round(time.Millisecond))
	}
	o.fails = 0
}
