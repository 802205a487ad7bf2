package llmqueue

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// processorStats are the BatchProcessor's own counters; all atomic so
// Status never blocks the workers.
type processorStats struct {
	processing        atomic.Bool
	startedAt         atomic.Int64
	processed         atomic.Int64
	completed         atomic.Int64
	failed            atomic.Int64
	consecutiveErrors atomic.Int64
	emptyCycles       atomic.Int64
	budgetWaits       atomic.Int64
	staleAcks         atomic.Int64
	restamps          atomic.Int64
	lastProcessed     atomic.Int64
	lastReason        atomic.Value // string
	// cycle is the cycle in force (a Cycle) as the last lease call said:
	// the namespace's SetCycle override or this process's own.
	cycle atomic.Value
	// thisCycle counts this process's leases since the shared cycle
	// position last passed the cycle's end; endPos is where its last call
	// left the position.
	thisCycle     atomic.Int64
	endPos        atomic.Int64
	quotaFailures atomic.Int64
	paused        atomic.Bool

	mu     sync.Mutex
	recent []time.Time // finish times within the last minute, for the rate
}

func (s *processorStats) record(status Status, took time.Duration) {
	now := time.Now()
	s.processed.Add(1)
	s.lastProcessed.Store(now.UnixMilli())
	switch status {
	case StatusCompleted:
		s.completed.Add(1)
	case StatusDead:
		s.failed.Add(1)
	}
	s.mu.Lock()
	s.recent = append(s.recent, now)
	cut := 0
	for cut < len(s.recent) && now.Sub(s.recent[cut]) > time.Minute {
		cut++
	}
	s.recent = s.recent[cut:]
	s.mu.Unlock()
}

// leased records what one answered lease call said about the cycle, the
// budget and the pause.
func (s *processorStats) leased(res redisstore.LeaseResult) {
	s.paused.Store(res.Reason == "paused")
	switch res.Reason {
	case "ok", "empty", "paused":
		s.quotaFailures.Store(0)
	default: // a budget dimension or the cool-down refused the head request
		if len(res.Jobs) == 0 {
			s.quotaFailures.Add(1)
		} else {
			s.quotaFailures.Store(0)
		}
	}
	if res.Cycle == "" { // a replayed call: nothing new about the cycle
		return
	}
	if c, ok := parseCycle(res.Cycle); ok {
		s.cycle.Store(c)
	}
	switch {
	case res.Wrapped:
		s.thisCycle.Store(int64(res.AfterWrap))
	case int64(res.StartPos) < s.endPos.Load():
		// Another process took the position past the end since our
		// last call: our leases of this call open the round.
		s.thisCycle.Store(int64(len(res.Jobs)))
	default:
		s.thisCycle.Add(int64(len(res.Jobs)))
	}
	s.endPos.Store(int64(res.EndPos))
}

// WorkerStatus is a BatchProcessor's view of itself, from its own counters.
// Its JSON keys match the Python package's processor status.
type WorkerStatus struct {
	IsProcessing               bool           `json:"is_processing"` // between Start and Shutdown
	WorkerID                   string         `json:"worker_id"`
	UptimeSeconds              float64        `json:"uptime_seconds"`
	CurrentCyclePosition       int            `json:"current_cycle_position"`   // the shared slot, from 0
	CurrentTaskType            Priority       `json:"current_task_type"`        // the class of that slot
	CycleSequence              []Priority     `json:"cycle_sequence"`           // the cycle in force, slot by slot
	ConsecutiveEmptyCycles     int64          `json:"consecutive_empty_cycles"` // lease calls in a row that found nothing
	TotalRequestsProcessed     int64          `json:"total_requests_processed"` // attempts acknowledged
	Completed                  int64          `json:"completed"`
	Failed                     int64          `json:"failed"` // went dead
	InFlight                   int            `json:"in_flight"`
	StaleAcks                  int64          `json:"stale_acks"`    // outcomes dropped: the lease was lost
	BudgetWaits                int64          `json:"budget_waits"`  // lease calls the budget or a cool-down refused
	LateRestamps               int64          `json:"late_restamps"` // reservations moved to a late call's start
	LastProcessedTime          *time.Time     `json:"last_processed_time"`
	ProcessingRatePerMinute    float64        `json:"processing_rate_per_minute"`    // attempts acknowledged in the last minute
	BatchConfig                map[string]int `json:"batch_config"`                  // the cycle in force and "concurrency"
	RequestsProcessedThisCycle int64          `json:"requests_processed_this_cycle"` // this process's leases in the current round
	ConsecutiveQuotaFailures   int64          `json:"consecutive_quota_failures"`    // lease calls in a row the budget left empty
	Paused                     bool           `json:"paused"`                        // by PauseProcessing
	QuotaStatus                string         `json:"quota_status"`                  // "available" or "limited: <reason>"
	ConsecutiveErrors          int64          `json:"consecutive_errors"`            // failed lease calls in a row
	HealthStatus               WorkerHealth   `json:"health_status"`
	ProcessorInfo              map[string]any `json:"processor_info,omitempty"` // the Processor's ProcessorInfo, if any
}

// WorkerHealth is what WorkerStatus.HealthStatus says of a worker.
type WorkerHealth string

// The health a worker reports, worst first.
const (
	HealthStopped      WorkerHealth = "stopped"
	HealthDegraded     WorkerHealth = "degraded"      // three failed lease calls in a row or more
	HealthPaused       WorkerHealth = "paused"        // PauseProcessing paused the namespace
	HealthQuotaLimited WorkerHealth = "quota_limited" // the budget or a cool-down refused the last lease call
	HealthIdle         WorkerHealth = "idle"          // WorkerConfig.MaxEmptyCycles empty lease calls, nothing running
	HealthHealthy      WorkerHealth = "healthy"
)

// Status reports what this process is doing. It is safe to call at any time;
// only the cycle position is read from Redis, with a short timeout.
func (b *BatchProcessor) Status() WorkerStatus {
	s := &b.st
	cycle := b.cfg.cycle
	if c, ok := s.cycle.Load().(Cycle); ok {
		cycle = c.array()
	}
	seq := make([]Priority, 0, cycle[0]+cycle[1]+cycle[2])
	for i, p := range priorities {
		for range cycle[i] {
			seq = append(seq, p)
		}
	}
	reason, _ := s.lastReason.Load().(string)
	st := WorkerStatus{
		IsProcessing:           s.processing.Load(),
		WorkerID:               b.cfg.workerID,
		CycleSequence:          seq,
		ConsecutiveEmptyCycles: s.emptyCycles.Load(),
		TotalRequestsProcessed: s.processed.Load(),
		Completed:              s.completed.Load(),
		Failed:                 s.failed.Load(),
		InFlight:               b.inFlight(),
		StaleAcks:              s.staleAcks.Load(),
		BudgetWaits:            s.budgetWaits.Load(),
		LateRestamps:           s.restamps.Load(),
		ConsecutiveErrors:      s.consecutiveErrors.Load(),
		BatchConfig: map[string]int{"low": cycle[0], "medium": cycle[1], "long": cycle[2],
			"concurrency": b.cfg.concurrency},
		RequestsProcessedThisCycle: s.thisCycle.Load(),
		ConsecutiveQuotaFailures:   s.quotaFailures.Load(),
		Paused:                     s.processing.Load() && s.paused.Load(),
		QuotaStatus:                "available",
	}
	st.ProcessorInfo = b.processorInfo()
	if pos, cls, ok := b.qm.cyclePosition(cycle); ok {
		st.CurrentCyclePosition, st.CurrentTaskType = pos, cls
	}
	if ms := s.startedAt.Load(); ms > 0 {
		st.UptimeSeconds = time.Since(time.UnixMilli(ms)).Seconds()
	}
	if ms := s.lastProcessed.Load(); ms > 0 {
		t := time.UnixMilli(ms)
		st.LastProcessedTime = &t
	}
	s.mu.Lock()
	n := 0
	for _, t := range s.recent {
		if time.Since(t) <= time.Minute {
			n++
		}
	}
	s.mu.Unlock()
	st.ProcessingRatePerMinute = float64(n)
	if reason != "" && reason != "ok" && reason != "empty" && reason != "paused" { // a budget dimension or the cool-down
		st.QuotaStatus = "limited: " + reason
	}
	switch {
	case !st.IsProcessing:
		st.HealthStatus = HealthStopped
	case st.Paused:
		st.HealthStatus = HealthPaused
	case st.ConsecutiveErrors >= 3:
		st.HealthStatus = HealthDegraded
	case st.QuotaStatus != "available":
		st.HealthStatus = HealthQuotaLimited
	case st.ConsecutiveEmptyCycles >= int64(b.cfg.maxEmptyCycles) && st.InFlight == 0:
		st.HealthStatus = HealthIdle
	default:
		st.HealthStatus = HealthHealthy
	}
	return st
}
