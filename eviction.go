package llmqueue

import (
	"context"
	"log/slog"
	"strings"
)

// warnIfEvicting reads Redis's maxmemory-policy and logs a warning when it
// is allkeys-*: Redis may then evict any key once memory is full, and an
// evicted queue, request or budget log loses or strands work (the README
// asks for noeviction). Managed Redis often forbids CONFIG; that is no
// reason to stop a worker, so a failed read is only noted at debug level.
func (q *QueueManager) warnIfEvicting(ctx context.Context, log *slog.Logger) {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	policy, err := q.store.MaxMemoryPolicy(ctx)
	if err != nil {
		log.Debug("llmqueue: redis maxmemory-policy could not be read; make sure it is noeviction",
			"error", err.Error())
		return
	}
	if strings.HasPrefix(policy, "allkeys-") {
		log.Warn("llmqueue: redis may evict queued requests and the budget ledger under memory pressure; "+
			"set maxmemory-policy to noeviction", "maxmemory-policy", policy)
		return
	}
	log.Debug("llmqueue: redis maxmemory-policy", "maxmemory-policy", policy)
}
