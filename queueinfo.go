package llmqueue

import (
	"context"
	"strconv"
)

// QueueInfo describes a namespace for operators, like the Python package's
// get_queue_info: this manager's configuration, the pause and cycle set for
// every worker, each queue, and the Redis server.
type QueueInfo struct {
	Namespace        string             `json:"namespace"`
	Budget           BudgetInfo         `json:"budget"`            // this manager's Budget, defaults applied
	Processing       ProcessingState    `json:"processing"`        // the pause and the cycle override
	Queues           []QueueDescription `json:"queues"`            // low, medium, long
	RetentionSeconds float64            `json:"retention_seconds"` // Config.Retention, defaults applied
	Redis            RedisInfo          `json:"redis"`
}

// BudgetInfo is a Budget as QueueInfo reports it.
type BudgetInfo struct {
	// The provider's limits; 0 means unlimited.
	TPM                  int64            `json:"tpm"`
	RPM                  int64            `json:"rpm"`
	ITPM                 int64            `json:"itpm"`
	OTPM                 int64            `json:"otpm"`
	TPD                  int64            `json:"tpd"`
	RPD                  int64            `json:"rpd"`
	WindowSeconds        float64          `json:"window_seconds"`
	APIAllocationPercent float64          `json:"api_allocation_percent"`
	SafetyBufferPercent  float64          `json:"safety_buffer_percent"` // 0 when none is held back
	Usable               map[string]int64 `json:"usable"`                // admitted per window or day, by key ("tpm", ...)
}

// QueueDescription is one class's queue.
type QueueDescription struct {
	Class Priority `json:"class"`
	// The estimates classified into the class; MaxTokens is 0 for long (no bound).
	MinTokens   int64  `json:"min_tokens"`
	MaxTokens   int64  `json:"max_tokens"`
	Length      int64  `json:"length"`
	Description string `json:"description"`
}

// RedisInfo is what the Redis server says of itself in INFO (on a cluster,
// the node that answered). When INFO fails, only Error is set.
type RedisInfo struct {
	Version          string `json:"version,omitempty"`
	Mode             string `json:"mode,omitempty"`
	UsedMemory       int64  `json:"used_memory_bytes,omitempty"`
	UsedMemoryHuman  string `json:"used_memory_human,omitempty"`
	MaxMemory        int64  `json:"maxmemory_bytes,omitempty"`
	MaxMemoryPolicy  string `json:"maxmemory_policy,omitempty"`
	ConnectedClients int64  `json:"connected_clients,omitempty"`
	Error            string `json:"error,omitempty"`
}

// QueueInfo reports the namespace's configuration, queues and Redis server.
// It fails only when the queues cannot be read; a failed INFO sets RedisInfo.Error.
func (q *QueueManager) QueueInfo(ctx context.Context) (*QueueInfo, error) {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	info := &QueueInfo{
		Namespace:        q.cfg.namespace,
		Budget:           budgetInfo(q.cfg.budget),
		RetentionSeconds: q.cfg.retention.Seconds(),
	}
	ps, err := q.ProcessingState(ctx)
	if err != nil {
		return nil, err
	}
	info.Processing = ps
	t := q.cfg.thresholds.withDefaults()
	bounds := map[Priority][2]int64{
		PriorityLow:    {0, t.LowMax},
		PriorityMedium: {t.LowMax + 1, t.MediumMax},
		PriorityLong:   {t.MediumMax + 1, 0},
	}
	descs := map[Priority]string{
		PriorityLow:    "short prompts: most slots of the cycle",
		PriorityMedium: "standard requests",
		PriorityLong:   "large prompts: one slot a cycle, so they cannot starve the rest",
	}
	for _, p := range priorities {
		n, err := q.store.QueueLen(ctx, string(p))
		if err != nil {
			return nil, q.wrapControl("queue info", err)
		}
		b := bounds[p]
		info.Queues = append(info.Queues, QueueDescription{Class: p, MinTokens: b[0], MaxTokens: b[1],
			Length: n, Description: descs[p]})
	}
	info.Redis = q.redisInfo(ctx)
	return info, nil
}

func budgetInfo(b Budget) BudgetInfo {
	d := b.withDefaults()
	return BudgetInfo{
		TPM: b.TPM, RPM: b.RPM, ITPM: b.ITPM, OTPM: b.OTPM, TPD: b.TPD, RPD: b.RPD,
		WindowSeconds:        d.Window.Seconds(),
		APIAllocationPercent: d.APIAllocationPercent,
		SafetyBufferPercent:  max(d.SafetyBufferPercent, 0),
		Usable: map[string]int64{
			"tpm": b.UsableTokens(), "rpm": b.UsableRequests(), "itpm": b.UsableInputTokens(),
			"otpm": b.UsableOutputTokens(), "tpd": b.UsableTokensPerDay(), "rpd": b.UsableRequestsPerDay(),
		},
	}
}

// redisInfo reads INFO. A Redis that refuses it (some managed services
// rename the command) leaves RedisInfo.Error set, and QueueInfo still
// answers.
func (q *QueueManager) redisInfo(ctx context.Context) RedisInfo {
	f, err := q.store.ServerInfo(ctx)
	if err != nil {
		return RedisInfo{Error: q.wrapControl("redis info", err).Error()}
	}
	num := func(k string) int64 {
		n, _ := strconv.ParseInt(f[k], 10, 64)
		return n
	}
	return RedisInfo{
		Version: f["redis_version"], Mode: f["redis_mode"],
		UsedMemory: num("used_memory"), UsedMemoryHuman: f["used_memory_human"],
		MaxMemory: num("maxmemory"), MaxMemoryPolicy: f["maxmemory_policy"],
		ConnectedClients: num("connected_clients"),
	}
}
