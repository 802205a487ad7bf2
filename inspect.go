package llmqueue

import (
	"context"
	"fmt"
	"time"
)

// ListDead returns up to limit IDs of the dead requests still kept (those
// that died within the retention), oldest first, after skipping offset of
// them. A page is short only at the end of the list: IDs whose request has
// expired or was deleted are dropped from the list on the way, never
// returned.
func (q *QueueManager) ListDead(ctx context.Context, offset, limit int64) ([]string, error) {
	return q.list(ctx, q.store.Keys().Dead, q.cfg.retention, offset, limit)
}

// ListSuspended returns up to limit suspended request IDs, oldest first,
// after skipping offset of them. Suspended requests do not expire; IDs
// whose request was deleted are dropped on the way, as in ListDead.
func (q *QueueManager) ListSuspended(ctx context.Context, offset, limit int64) ([]string, error) {
	return q.list(ctx, q.store.Keys().Suspended, 0, offset, limit)
}

// list pages through an id set whose entries expire after retention
// (0: never).
func (q *QueueManager) list(ctx context.Context, key string, retention time.Duration, offset, limit int64) ([]string, error) {
	if offset < 0 || limit <= 0 {
		return nil, fmt.Errorf("%w: offset %d, limit %d", ErrInvalidRequest, offset, limit)
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	ids, err := q.store.List(ctx, key, offset, limit, retention.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("llmqueue: list: %w", storeErr(err))
	}
	return ids, nil
}
