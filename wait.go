package llmqueue

import (
	"context"
	"errors"
	"fmt"
)

// Wait blocks until the request reaches a terminal status (completed,
// dead or canceled) or ctx ends, and returns its final status; a suspended
// request keeps Wait waiting until it is resumed and finishes. All Waits of
// a manager share one pub/sub subscription, started by the first Wait and
// stopped by Close: Wait re-reads the status when an event names its
// request, after every reconnect of the subscription, and on a slow
// fallback poll (every 5 seconds), so a lost event delays Wait by at most
// that interval.
//
// Wait fails at once if its first read does; a later read that finds
// Redis unreachable is retried at the next wake instead, since the request
// is known to exist.
func (q *QueueManager) Wait(ctx context.Context, id string) (*RequestStatus, error) {
	// Register before the first read, so an event between the two wakes
	// this Wait; one published before the subscription is up is caught by
	// the read the subscriber triggers once it is.
	w, err := q.waits.add(q, id)
	if err != nil {
		return nil, fmt.Errorf("llmqueue: wait %s: %w", id, err)
	}
	defer q.waits.remove(w)
	for first := true; ; first = false {
		st, err := w.status(ctx, q)
		switch {
		case err == nil && st.Status.Terminal():
			return st, nil
		case err == nil:
		case ctx.Err() != nil:
			return nil, fmt.Errorf("llmqueue: wait %s: %w", id, ctx.Err())
		case first || !errors.Is(err, ErrUnavailable):
			return nil, err
		default:
			q.cfg.logger.Debug("llmqueue: wait: status read failed; waiting for the next wake", "id", id, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("llmqueue: wait %s: %w", id, ctx.Err())
		case <-w.sub.done:
			return nil, fmt.Errorf("llmqueue: wait %s: %w", id, w.sub.err)
		case <-w.wake:
		}
	}
}

// Close releases the pub/sub connection that serves Wait; call it when
// done with the manager. Waits in progress and later ones fail. Close does
// not close the Redis client, which the caller owns. Calling it more than
// once does nothing.
func (q *QueueManager) Close() error {
	q.waits.close()
	return nil
}
