package llmqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

// The worker registry: each BatchProcessor registers under its worker id
// at Start, renews the entry with every heartbeat and removes it at
// Shutdown; an entry of a process that died expires within one lease.
// Metrics and Inspector.Workers read it.

// WorkerInfo is a live BatchProcessor's entry in the namespace's worker
// registry, renewed with each heartbeat.
type WorkerInfo struct {
	ID          string    `json:"id"` // WorkerConfig.WorkerID
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	InFlight    int       `json:"in_flight"` // as of the last heartbeat
	Concurrency int       `json:"concurrency"`
	Processed   int64     `json:"processed"` // WorkerStatus.TotalRequestsProcessed
	StartedAt   time.Time `json:"started_at"`
	// Budget is the budget the worker enforces, so a process that only
	// watches (the CLI, a dashboard) can report it.
	Budget *BudgetInfo `json:"budget,omitempty"`
}

// register claims the worker id before the first lease. A live process
// already registered under it is refused with ErrWorkerIDInUse: the two
// would share the id's idempotency keys. A registration left by a process
// that died (a restart under a fixed id) expires within one lease, so
// register waits for it once before refusing. A Redis error does not stop
// Start: the heartbeat registers once Redis answers, and never takes an id
// another live process holds.
func (b *BatchProcessor) register(ctx context.Context) error {
	waited := false
	for {
		octx, cancel := context.WithTimeout(ctx, b.qm.cfg.opTimeout)
		holder, err := b.store.Register(octx, b.cfg.workerID, b.instance, b.cfg.lease, b.workerInfo(0))
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			b.cfg.logger.Warn("llmqueue: could not register the worker; the heartbeat will",
				"worker", b.cfg.workerID, "error", err)
			return nil
		case holder == nil:
			return nil
		case waited:
			return fmt.Errorf("llmqueue: worker %q: %w (%s)", b.cfg.workerID, ErrWorkerIDInUse, holder.Info)
		}
		b.cfg.logger.Info("llmqueue: worker id is registered to another process; waiting for it to expire",
			"worker", b.cfg.workerID, "holder", holder.Info, "left", durationText(holder.Left))
		t := time.NewTimer(holder.Left + 10*time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("llmqueue: worker %q: %w (%s): %w", b.cfg.workerID, ErrWorkerIDInUse, holder.Info,
				ctx.Err())
		case <-t.C:
		}
		waited = true
	}
}

// workerInfo is the registry entry of this process.
func (b *BatchProcessor) workerInfo(inFlight int) []byte {
	host, _ := os.Hostname()
	bi := budgetInfo(b.budget)
	info, _ := json.Marshal(WorkerInfo{
		ID: b.cfg.workerID, Host: host, PID: os.Getpid(), InFlight: inFlight,
		Concurrency: b.cfg.concurrency, Processed: b.st.processed.Load(),
		StartedAt: time.UnixMilli(b.st.startedAt.Load()), Budget: &bi,
	})
	return info
}

// workersOf decodes the registry's entries, sorted by ID; an entry that
// does not decode is left out.
func workersOf(raw map[string]string) []WorkerInfo {
	out := make([]WorkerInfo, 0, len(raw))
	for _, info := range raw {
		var w WorkerInfo
		if json.Unmarshal([]byte(info), &w) == nil {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
