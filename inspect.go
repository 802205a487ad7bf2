package llmqueue

import (
	"context"
	"fmt"
)

// ListDead returns up to limit IDs of the dead requests still kept (those
// that died within the retention), oldest first, after skipping offset of
// them. A page is short only at the end of the list: IDs whose request has
// expired or was deleted are dropped from the list on the way, never
// returned.
func (q *QueueManager) ListDead(ctx context.Context, offset, limit int64) ([]string, error) {
	return q.list(ctx, offset, limit, func(ctx context.Context) ([]string, error) {
		return q.store.ListDead(ctx, offset, limit, q.cfg.retention.Milliseconds())
	})
}

// ListSuspended returns up to limit suspended request IDs, oldest first,
// after skipping offset of them. Suspended requests do not expire; IDs
// whose request was deleted are dropped on the way, as in ListDead.
func (q *QueueManager) ListSuspended(ctx context.Context, offset, limit int64) ([]string, error) {
	return q.list(ctx, offset, limit, func(ctx context.Context) ([]string, error) {
		return q.store.ListSuspended(ctx, offset, limit)
	})
}

// list checks a page's bounds and reads it.
func (q *QueueManager) list(ctx context.Context, offset, limit int64, read func(context.Context) ([]string, error)) ([]string, error) {
	if offset < 0 || limit <= 0 {
		return nil, fmt.Errorf("%w: offset %d, limit %d", ErrInvalidRequest, offset, limit)
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	ids, err := read(ctx)
	if err != nil {
		return nil, fmt.Errorf("llmqueue: list: %w", storeErr(err))
	}
	return ids, nil
}
