package llmqueue

import (
	"context"
	"fmt"
	"time"
)

// ProcessingState is what an operator set for every worker of a namespace
// through PauseProcessing and SetCycle.
type ProcessingState struct {
	// Paused is true while no worker of the namespace leases anything.
	Paused bool `json:"paused"`
	// PausedAt is when PauseProcessing was called; nil unless Paused.
	PausedAt *time.Time `json:"paused_at,omitempty"`
	// Cycle is the cycle SetCycle made every worker's; nil when each
	// worker uses the one it was built with (WorkerConfig.Cycle).
	Cycle *Cycle `json:"cycle,omitempty"`
	// CycleSetAt is when SetCycle was called; nil unless Cycle is set.
	CycleSetAt *time.Time `json:"cycle_set_at,omitempty"`
}

// PauseProcessing stops every worker of the namespace, in every process,
// from leasing requests, from its next lease call on. Workers stay up and
// keep their registrations; requests already running finish and are
// acknowledged as usual; Add keeps queueing. Leases of workers that died
// still expire and go back to their queues. The pause is kept in Redis,
// so it outlives the process that set it and holds for workers started
// later, until ResumeProcessing. Pausing a paused namespace is a no-op.
func (q *QueueManager) PauseProcessing(ctx context.Context) error {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrapControl("pause processing", q.store.SetPaused(ctx, true))
}

// ResumeProcessing lets every worker of the namespace lease again and
// wakes the idle ones. Resuming a namespace that is not paused is a no-op.
func (q *QueueManager) ResumeProcessing(ctx context.Context) error {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrapControl("resume processing", q.store.SetPaused(ctx, false))
}

// SetCycle changes the 3-2-1 cycle of every worker of the namespace, in
// every process, while they run: each lease call reads it, so it holds
// from the next call of each worker. Each class needs 1 to 1000
// slots; anything else is an error matching ErrInvalidRequest. The cycle
// is kept in Redis until ClearCycle.
func (q *QueueManager) SetCycle(ctx context.Context, c Cycle) error {
	if err := validCycle(c.array()); err != nil {
		return err
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrapControl("set cycle", q.store.SetCycle(ctx, c.String()))
}

// ClearCycle drops the cycle SetCycle set: each worker goes back to the
// cycle it was built with.
func (q *QueueManager) ClearCycle(ctx context.Context) error {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrapControl("clear cycle", q.store.SetCycle(ctx, ""))
}

// ProcessingState reports whether the namespace is paused and which cycle
// was set for all of its workers.
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
