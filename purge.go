package llmqueue

import (
	"context"
	"fmt"
)

// clearedMessage is the error a request canceled by ClearQueues carries.
const clearedMessage = "canceled: its queue was cleared"

// ClearReport says what ClearQueues removed.
type ClearReport struct {
	Removed map[Priority]int64 `json:"removed"` // the queued requests canceled, per class
	Total   int64              `json:"total"`   // the sum of Removed
}

// ClearQueues cancels the requests queued in the given classes (all when none
// is given); running, retrying and suspended ones stay. An unknown class fails
// with ErrInvalidRequest; on an error the report counts what was removed.
func (q *QueueManager) ClearQueues(ctx context.Context, classes ...Priority) (ClearReport, error) {
	// This is the Python package's clear_all_queues. Every request taken
	// off ends canceled with clearedMessage as its error, so callers
	// waiting on it wake and Status tells them why; each is counted in its
	// class's canceled metric.
	//
	// Only queued requests are touched. Requests running, waiting for a
	// retry or suspended are left alone (Cancel them one by one), and so
	// are requests added while ClearQueues runs beyond the length each
	// queue had when it started: a long queue is cleared in bounded steps,
	// so Redis is never blocked for long, and a producer adding all the
	// while cannot keep ClearQueues running. Every class is checked before
	// anything is removed.
	if len(classes) == 0 {
		classes = priorities
	}
	for _, c := range classes {
		if !c.valid() {
			return ClearReport{}, fmt.Errorf("llmqueue: clear queues: %w: class %q is not low, medium or long",
				ErrInvalidRequest, c)
		}
	}
	rep := ClearReport{Removed: map[Priority]int64{}}
	seen := map[Priority]bool{}
	for _, c := range classes {
		if seen[c] {
			continue
		}
		seen[c] = true
		res, err := q.store.Clear(ctx, string(c), q.cfg.retention.Milliseconds(), clearedMessage, q.cfg.opTimeout)
		rep.Removed[c] += res.Canceled
		rep.Total += res.Canceled
		if err != nil {
			return rep, q.wrapControl("clear queue "+string(c), err)
		}
	}
	return rep, nil
}
