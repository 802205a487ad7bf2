package llmqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Job is a leased request as the Processor sees it. Its fields are read-only
// snapshots; SetMeta is the only way to change the stored request while it
// runs.
type Job struct {
	// ID is the request's ID.
	ID string
	// Payload is the JSON payload given to Add.
	Payload json.RawMessage
	// Priority is the request's size class.
	Priority Priority
	// EstimatedTokens is the estimate reserved for this attempt:
	// Reserved.Tokens.
	EstimatedTokens int64
	// Reserved is what the ledger reserved for this attempt in each token
	// dimension; the namespace's Meter settles it after the call.
	Reserved Charge
	// Attempt counts attempts including this one (1 on the first run).
	Attempt int
	// MaxRetries is the request's retry limit.
	MaxRetries int
	// LeasedAt is when this attempt's lease was granted, by the Redis
	// clock; its tokens were reserved at that instant.
	LeasedAt time.Time
	// Timeout is the time this attempt may run.
	Timeout time.Duration
	// Meta holds the request's meta values as JSON.
	Meta map[string]json.RawMessage
	// ResumeInput is the input given to Resume, nil on a first run.
	ResumeInput json.RawMessage
	// State is what the processor saved with Suspend, nil on a first run.
	State []byte

	// lease is the lease token of this attempt; tests order leases by it
	// (tokens come from one counter per namespace).
	lease   string
	setMeta func(ctx context.Context, key string, value []byte) error
	// sent is true once the attempt's call left for the provider, as
	// BeforeSend told: a failure then keeps the reservation.
	sent bool
}

// SetMeta stores a progress value under key; Status shows it at once. The
// value is marshalled to JSON. It fails with ErrStaleLease when this attempt
// no longer holds the request's lease.
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
