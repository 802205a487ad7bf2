package llmqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Job is a leased request as the Processor sees it, as read-only snapshots;
// SetMeta is the only way to change the stored request while it runs.
type Job struct {
	ID              string                     // the request's ID
	Payload         json.RawMessage            // the JSON payload given to Add
	Priority        Priority                   // the request's size class
	EstimatedTokens int64                      // this attempt's reserved estimate: Reserved.Tokens
	Reserved        Charge                     // reserved per token dimension; the Meter settles it
	Attempt         int                        // attempts including this one; 1 on the first run
	MaxRetries      int                        // the request's retry limit
	CreatedAt       time.Time                  // when the request was added (Redis clock)
	LeasedAt        time.Time                  // when the lease and its reservation began (Redis clock)
	Deployment      string                     // the Deployment it runs on under a Router; "" otherwise
	Timeout         time.Duration              // the time this attempt may run
	Meta            map[string]json.RawMessage // the request's meta values as JSON
	ResumeInput     json.RawMessage            // Resume's input; nil on a first run
	State           []byte                     // what Suspend saved; nil on a first run

	// lease is the lease token of this attempt; tests order leases by it
	// (tokens come from one counter per namespace).
	lease   string
	setMeta func(ctx context.Context, key string, value []byte) error
	// sent is true once the attempt's call left for the provider, as
	// BeforeSend told: a failure then keeps the reservation.
	sent bool
}

// SetMeta stores value as JSON under key, shown by Status at once. It fails
// with ErrStaleLease once this attempt no longer holds the lease.
func (j *Job) SetMeta(ctx context.Context, key string, value any) error {
	if key == "" {
		return fmt.Errorf("%w: empty meta key", ErrInvalidRequest)
	}
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("llmqueue: set meta %q: %w", key, err)
	}
	if j.setMeta == nil {
		return ErrClosed
	}
	if err := j.setMeta(ctx, key, b); err != nil {
		return err
	}
	if j.Meta == nil {
		j.Meta = map[string]json.RawMessage{}
	}
	j.Meta[key] = b
	return nil
}
