package llmqueue

import (
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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
		if isScriptError(err) {
			o.logger.Error("llmqueue: redis rejected the call (a bug, bad data or configuration), not an outage; retrying with backoff",
				"op", o.what, "error", err)
		} else {
			o.logger.Warn("llmqueue: redis unavailable, backing off", "op", o.what, "error", err)
		}
	}
	o.fails++
	d := 50 * time.Millisecond << min(o.fails-1, 7) // 50ms .. 6.4s
	return min(d, 5*time.Second)
}

// ok records a success, logging the end of an outage.
func (o *outageTracker) ok() {
	if o.fails > 0 {
		o.logger.Info("llmqueue: redis reachable again", "op", o.what, "down_for", durationText(time.Since(o.since)))
	}
	o.fails = 0
}

// transientReplies are the error replies of a server that is loading,
// failing over or busy: an outage, not a rejected call.
var transientReplies = []string{"LOADING", "BUSY", "READONLY", "MASTERDOWN", "CLUSTERDOWN",
	"TRYAGAIN", "MOVED", "ASK", "NOREPLICAS", "OOM"}

// isScriptError reports whether err is an error reply from a Redis that
// answered: a script that failed (a bad argument, a corrupt field) or a
// command Redis refused, as opposed to no answer or a server in transition.
func isScriptError(err error) bool {
	var re redis.Error
	if errors.Is(err, redis.Nil) || !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range transientReplies {
		if strings.HasPrefix(msg, p) {
			return false
		}
	}
	return true
}
