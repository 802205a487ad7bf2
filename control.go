package llmqueue

import (
	"context"
	"fmt"
	"time"
)

// ProcessingState is what PauseProcessing and SetCycle set for every worker
// of a namespace.
type ProcessingState struct {
	Paused     bool       `json:"paused"`
	PausedAt   *time.Time `json:"paused_at,omitempty"`    // nil unless Paused
	Cycle      *Cycle     `json:"cycle,omitempty"`        // nil: each worker's WorkerConfig.Cycle
	CycleSetAt *time.Time `json:"cycle_set_at,omitempty"` // nil unless Cycle is set
}

// PauseProcessing stops every worker of the namespace, in every process and
// those started later, from leasing until ResumeProcessing; running requests
// finish and Add still queues. Pausing a paused namespace is a no-op.
func (q *QueueManager) PauseProcessing(ctx context.Context) error {
	// Each worker sees the pause at its next lease call; workers stay up
	// and keep their registrations, and what they run is acknowledged as
	// usual. Leases of workers that died still expire and go back to their
	// queues. Kept in Redis, the pause outlives the process that set it and
	// holds for workers started later.
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrapControl("pause processing", q.store.SetPaused(ctx, true))
}

// ResumeProcessing lets every worker of the namespace lease again; resuming a
// namespace that is not paused is a no-op.
func (q *QueueManager) ResumeProcessing(ctx context.Context) error {
	// The store also wakes the idle workers, so none sleeps out its poll
	// interval first.
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrapControl("resume processing", q.store.SetPaused(ctx, false))
}

// SetCycle sets the cycle of every worker of the namespace, in every process,
// from its next lease call until ClearCycle. Each class needs 1-1000 slots,
// else the error matches ErrInvalidRequest.
func (q *QueueManager) SetCycle(ctx context.Context, c Cycle) error {
	// The cycle is kept in Redis and each lease call reads it, so running
	// workers switch without a restart.
	if err := validCycle(c.array()); err != nil {
		return err
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrapControl("set cycle", q.store.SetCycle(ctx, c.String()))
}

// ClearCycle drops SetCycle's cycle: each worker goes back to its
// WorkerConfig.Cycle.
func (q *QueueManager) ClearCycle(ctx context.Context) error {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrapControl("clear cycle", q.store.SetCycle(ctx, ""))
}

// ProcessingState reads what PauseProcessing and SetCycle set.
func (q *QueueManager) ProcessingState(ctx context.Context) (ProcessingState, error) {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	c, err := q.store.Control(ctx)
	if err != nil {
		return ProcessingState{}, q.wrapControl("read processing state", err)
	}
	st := ProcessingState{Paused: c.Paused}
	if !c.PausedAt.IsZero() {
		st.PausedAt = &c.PausedAt
	}
	if cy, ok := parseCycle(c.Cycle); ok && validCycle(cy.array()) == nil {
		st.Cycle = &cy
		if !c.CycleAt.IsZero() {
			st.CycleSetAt = &c.CycleAt
		}
	}
	return st, nil
}

func (q *QueueManager) wrapControl(op string, err error) error {
	if err == nil {
		return nil
	}
	if redisUnavailable(err) {
		err = storeErr(err)
	}
	return fmt.Errorf("llmqueue: %s: %w", op, err)
}
