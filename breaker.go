package llmqueue

import (
	"sync"
	"time"
)

// The cool-down of a failing deployment: breakerBase after its first
// failure in a row, doubling with each further one up to breakerMax. While
// it lasts no worker of any process leases for the deployment; the first
// lease after it is the probe, and a success closes the breaker.
const (
	breakerBase = time.Second
	breakerMax  = 30 * time.Second
)

// breaker spaces the cool-downs of one deployment that keeps failing. The
// cool-down itself is shared through Redis (the deployment's cooldown
// key); the count of failures in a row is this process's.
type breaker struct {
	mu    sync.Mutex
	fails int
	until time.Time // the end of the cool-down this process last set
}

// failed counts a failure and returns the cool-down to set, at least
// after (the provider's Retry-After). Failures of calls that were already
// running when the cool-down began count once: a deployment that goes
// down with 16 calls in flight has failed once, not 16 times.
func (br *breaker) failed(after time.Duration) time.Duration {
	br.mu.Lock()
	defer br.mu.Unlock()
	now := time.Now()
	if now.Before(br.until) {
		return max(after, br.until.Sub(now))
	}
	br.fails++
	d := min(breakerBase<<min(br.fails-1, 16), breakerMax)
	d = max(d, after)
	br.until = now.Add(d)
	return d
}

// ok closes the breaker after a successful call.
func (br *breaker) ok() {
	br.mu.Lock()
	br.fails = 0
	br.mu.Unlock()
}
