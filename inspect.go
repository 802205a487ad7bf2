package llmqueue

import (
	"context"
	"fmt"
)

// ListDead returns up to limit dead request IDs, oldest first.
func (q *QueueManager) ListDead(ctx context.Context, offset, limit int64) ([]string, error) {
	return q.list(ctx, q.store.Keys().Dead, offset, limit)
}

// ListSuspended returns up to limit suspended request IDs, oldest first.
func (q *QueueManager) ListSuspended(ctx context.Context, offset, limit int64) ([]string, error) {
	return q.list(ctx, q.store.Keys().Suspended, offset, limit)
}

func (q *QueueManager) list(ctx context.Context, key string, offset, limit int64) ([]string, error) {
	if offset < 0 || limit <= 0 {
		return nil, fmt.Errorf("%w: offset %d, limit %d", ErrInvalidRequest, offset, limit)
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	ids, err := q.store.Members(ctx, key, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("llmqueue: list: %w", storeErr(err))
	}
	// A dead request's hash expires with the retention period; drop its
	// ID from the list then, so the list never names what Status cannot find.
	live, err := q.store.Prune(ctx, key, ids)
	if err != nil {
		return nil, fmt.Errorf("llmqueue: list: %w", storeErr(err))
	}
	return live, nil
}
