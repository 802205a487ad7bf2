package llmqueue

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// Metrics is a snapshot of a namespace, read by QueueManager.Metrics. Its
// JSON keys include the Python package's, so its dashboards keep working.
type Metrics struct {
	// Requests queued now: in all, then per class.
	TotalInQueue  int64 `json:"total_in_queue"`
	LowInQueue    int64 `json:"low_in_queue"`
	MediumInQueue int64 `json:"medium_in_queue"`
	LongInQueue   int64 `json:"long_in_queue"`
	// Per class, since the namespace began: completed, failed (dead) and queued (added).
	LowCompleted    int64 `json:"low_completed"`
	LowFailed       int64 `json:"low_failed"`
	LowQueued       int64 `json:"low_queued"`
	MediumCompleted int64 `json:"medium_completed"`
	MediumFailed    int64 `json:"medium_failed"`
	MediumQueued    int64 `json:"medium_queued"`
	LongCompleted   int64 `json:"long_completed"`
	LongFailed      int64 `json:"long_failed"`
	LongQueued      int64 `json:"long_queued"`
	// Over all classes since the namespace began, except the counts marked "now".
	TotalQueued        int64            `json:"total_queued"`
	TotalCompleted     int64            `json:"total_completed"`
	TotalFailed        int64            `json:"total_failed"`
	TotalProcessing    int64            `json:"total_processing"`     // leased now
	TotalRetried       int64            `json:"total_retried"`        // retries scheduled
	TotalCanceled      int64            `json:"total_canceled"`       // includes ClearQueues
	TotalRateLimit     int64            `json:"total_rate_limited"`   // provider 429s
	TotalRecovered     int64            `json:"total_recovered"`      // expired leases requeued
	QueueLengths       map[string]int64 `json:"queue_lengths"`        // now queued, by class
	Scheduled          int64            `json:"scheduled"`            // now waiting for a retry
	Dead               int64            `json:"dead"`                 // now dead and kept (Config.Retention)
	Suspended          int64            `json:"suspended"`            // now waiting for Resume
	SuccessRatePercent float64          `json:"success_rate_percent"` // completed / (completed + failed); 100 before any
	// The current budget window, and what is left of a provider 429's cool-down.
	TokenUsage       TokenUsage   `json:"token_usage"`
	RequestsInWindow int64        `json:"requests_in_window"`
	RequestLimit     int64        `json:"request_limit"`
	CooldownSeconds  float64      `json:"cooldown_seconds"`
	CyclePosition    int          `json:"cycle_position"` // the shared slot of the cycle, from 0
	Workers          []WorkerInfo `json:"workers"`        // the live workers, by ID
	SystemHealth     SystemHealth `json:"system_health"`
	// Every budget dimension in its current window, and the last minute's events.
	Dimensions []DimensionUse `json:"dimensions"`
	LastMinute RecentEvents   `json:"last_minute"`
	// Spent on completed calls since the namespace began, at Config.Prices: in all, by Deployment and by model.
	CostUSD          float64            `json:"cost_usd"`
	CostByDeployment map[string]float64 `json:"cost_by_deployment,omitempty"`
	CostByModel      map[string]float64 `json:"cost_by_model,omitempty"`
}

// DimensionUse is one budget dimension's use in its current sliding window.
type DimensionUse struct {
	Name          string  `json:"name"`   // tokens, input_tokens, output_tokens, requests, tokens_per_day or requests_per_day
	Used          int64   `json:"used"`   // charged in the window
	Usable        int64   `json:"usable"` // the Budget's usable limit; 0 means unlimited
	Limit         int64   `json:"limit"`  // the provider's limit as configured
	WindowSeconds float64 `json:"window_seconds"`
}

// RecentEvents counts a namespace's events over the last minute, from
// 10-second buckets: each figure is within a bucket's share of the truth.
type RecentEvents struct {
	Completed   int64 `json:"completed"`
	Failed      int64 `json:"failed"` // died
	Canceled    int64 `json:"canceled"`
	RateLimited int64 `json:"rate_limited"` // provider 429s
}

// TokenUsage is the budget's token use in the current window.
type TokenUsage struct {
	Used               int64   `json:"used"`                // charged in the window; CurrentUsage repeats it
	Limit              int64   `json:"limit"`               // Budget.UsableTokens; 0 means unlimited
	UtilizationPercent float64 `json:"utilization_percent"` // Used / Limit
	CurrentUsage       int64   `json:"current_usage"`
	APIAllocation      int64   `json:"api_allocation"` // TPM × APIAllocationPercent
	Available          int64   `json:"available"`      // Limit - Used, at least 0
	SafetyBuffer       int64   `json:"safety_buffer"`  // APIAllocation - Limit
}

// SystemHealth scores the namespace from 100 down for high token use, a long
// backlog and a low success rate; Status is "healthy" from a Score of 80,
// "warning" from 60, else "critical".
type SystemHealth struct {
	Status           string  `json:"status"`
	Score            int     `json:"score"`
	TokenUtilization float64 `json:"token_utilization"` // TokenUsage.UtilizationPercent
	QueueBacklog     int64   `json:"queue_backlog"`     // Metrics.TotalInQueue
	SuccessRate      float64 `json:"success_rate"`      // Metrics.SuccessRatePercent
}

// Metrics reads a consistent snapshot of the namespace.
func (q *QueueManager) Metrics(ctx context.Context) (*Metrics, error) {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	snap, err := q.store.Snapshot(ctx, q.cfg.budget.ledgerWindow(), q.cfg.retention.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("llmqueue: metrics: %w", storeErr(err))
	}
	s := snap.Stats
	m := &Metrics{
		LowInQueue: snap.Low, MediumInQueue: snap.Medium, LongInQueue: snap.Long,
		TotalInQueue: snap.Low + snap.Medium + snap.Long,
		LowCompleted: s["low_completed"], LowFailed: s["low_failed"], LowQueued: s["low_added"],
		MediumCompleted: s["medium_completed"], MediumFailed: s["medium_failed"], MediumQueued: s["medium_added"],
		LongCompleted: s["long_completed"], LongFailed: s["long_failed"], LongQueued: s["long_added"],
		TotalProcessing: snap.Active, Scheduled: snap.Scheduled, Dead: snap.Dead, Suspended: snap.Suspended,
		QueueLengths:     map[string]int64{"low": snap.Low, "medium": snap.Medium, "long": snap.Long},
		RequestsInWindow: snap.RequestsInWindow, RequestLimit: q.cfg.budget.UsableRequests(),
		CooldownSeconds: snap.Cooldown.Seconds(),
	}
	for _, p := range priorities {
		m.TotalQueued += s[string(p)+"_added"]
		m.TotalCompleted += s[string(p)+"_completed"]
		m.TotalFailed += s[string(p)+"_failed"]
		m.TotalRetried += s[string(p)+"_retried"]
		m.TotalCanceled += s[string(p)+"_canceled"]
		m.TotalRateLimit += s[string(p)+"_ratelimited"]
		m.TotalRecovered += s[string(p)+"_recovered"]
	}
	m.SuccessRatePercent = 100
	if done := m.TotalCompleted + m.TotalFailed; done > 0 {
		m.SuccessRatePercent = round2(float64(m.TotalCompleted) * 100 / float64(done))
	}
	m.TokenUsage = q.tokenUsage(snap.TokensInWindow)
	m.Workers = workersOf(snap.Workers)
	if pos, ok := q.rawCycle(ctx); ok {
		m.CyclePosition = pos
	}
	m.SystemHealth = health(m)
	m.Dimensions = q.dimensions(snap, m.Workers)
	m.CostUSD, m.CostByDeployment, m.CostByModel = costsOf(s)
	m.LastMinute = RecentEvents{Completed: snap.RecentCompleted, Failed: snap.RecentFailed,
		Canceled: snap.RecentCanceled, RateLimited: snap.RecentRateLimited}
	return m, nil
}

// dimensions lists all six budget dimensions, limited or not, so a
// dashboard's rows do not change shape with the configuration. The limits
// are this manager's Budget; a manager with no limit at all (a CLI or a
// web process that only watches) reports the budget the first live worker
// enforces, as its heartbeat published it.
func (q *QueueManager) dimensions(snap redisstore.Snapshot, workers []WorkerInfo) []DimensionUse {
	bi := budgetInfo(q.cfg.budget)
	if q.cfg.budget.unlimited() {
		for _, w := range workers {
			if w.Budget != nil {
				bi = *w.Budget
				break
			}
		}
	}
	return dimensionsOf(bi, snap)
}

// dimensionsOf pairs a budget's limits with a snapshot of its ledger.
func dimensionsOf(bi BudgetInfo, snap redisstore.Snapshot) []DimensionUse {
	w, day := bi.WindowSeconds, (24 * time.Hour).Seconds()
	return []DimensionUse{
		{Name: "tokens", Used: snap.TokensInWindow, Usable: bi.Usable["tpm"], Limit: bi.TPM, WindowSeconds: w},
		{Name: "input_tokens", Used: snap.InTokensInWindow, Usable: bi.Usable["itpm"], Limit: bi.ITPM, WindowSeconds: w},
		{Name: "output_tokens", Used: snap.OutTokensInWindow, Usable: bi.Usable["otpm"], Limit: bi.OTPM, WindowSeconds: w},
		{Name: "requests", Used: snap.RequestsInWindow, Usable: bi.Usable["rpm"], Limit: bi.RPM, WindowSeconds: w},
		{Name: "tokens_per_day", Used: snap.TokensInDay, Usable: bi.Usable["tpd"], Limit: bi.TPD, WindowSeconds: day},
		{Name: "requests_per_day", Used: snap.RequestsInDay, Usable: bi.Usable["rpd"], Limit: bi.RPD, WindowSeconds: day},
	}
}

func (q *QueueManager) tokenUsage(used int64) TokenUsage {
	b := q.cfg.budget
	limit := b.UsableTokens()
	alloc := int64(float64(b.TPM) * b.APIAllocationPercent / 100)
	u := TokenUsage{Used: used, Limit: limit, CurrentUsage: used, APIAllocation: alloc, SafetyBuffer: alloc - limit}
	if limit > 0 {
		u.Available = max(0, limit-used)
		u.UtilizationPercent = round2(float64(used) * 100 / float64(limit))
	}
	return u
}

// health scores m like the Python seed did: 100 minus 30/15 for token use
// over 90/70%, 25/10 for more than 200/100 queued, 20/10 for a success rate
// under 90/95%; 80 and up is healthy, 60 and up warning, the rest critical.
func health(m *Metrics) SystemHealth {
	h := SystemHealth{Score: 100, TokenUtilization: m.TokenUsage.UtilizationPercent,
		QueueBacklog: m.TotalInQueue, SuccessRate: m.SuccessRatePercent}
	switch {
	case h.TokenUtilization > 90:
		h.Score -= 30
	case h.TokenUtilization > 70:
		h.Score -= 15
	}
	switch {
	case h.QueueBacklog > 200:
		h.Score -= 25
	case h.QueueBacklog > 100:
		h.Score -= 10
	}
	switch {
	case h.SuccessRate < 90:
		h.Score -= 20
	case h.SuccessRate < 95:
		h.Score -= 10
	}
	switch {
	case h.Score >= 80:
		h.Status = "healthy"
	case h.Score >= 60:
		h.Status = "warning"
	default:
		h.Status = "critical"
	}
	return h
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
