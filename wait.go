package llmqueue

import (
	"context"
	"errors"
	"fmt"
)

// Wait blocks until the request is completed, dead or canceled (a suspended
// one waits for Resume) or ctx ends, and returns its final status. An unknown
// ID fails with ErrNotFound. All Waits share one subscription; see Close.
func (q *QueueManager) Wait(ctx context.Context, id string) (*RequestStatus, error) {
	// All Waits of a manager share one pub/sub subscription, started by the
	// first Wait and stopped by Close: Wait re-reads the status when an
	// event names its request, after every reconnect of the subscription,
	// and on a slow fallback poll (waitPollDefault, 5 seconds), so a lost
	// event delays Wait by at most that interval.
	//
	// Wait fails at once if its first read does; a later read that finds
	// Redis unreachable is retried at the next wake instead, since the
	// request is known to exist.
	//
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

// Close releases the pub/sub connection that serves Wait and WaitEach, which
// then fail; the Redis client stays open. Calling it again does nothing.
func (q *QueueManager) Close() error {
	q.waits.close()
	return nil
}
