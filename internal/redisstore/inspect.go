package redisstore

import (
	"context"
	"fmt"
)

// listScript lives beside its one caller rather than in scripts.go.
var listScript = load("list")

// ListDead returns up to limit dead ids, oldest first, after skipping
// offset; see list. Dead ids older than retentionMS (0: none) are pruned.
func (s *Store) ListDead(ctx context.Context, offset, limit, retentionMS int64) ([]string, error) {
	return s.list(ctx, s.keys.Dead, offset, limit, retentionMS)
}

// ListSuspended returns up to limit suspended ids, oldest first, after
// skipping offset; see list.
func (s *Store) ListSuspended(ctx context.Context, offset, limit int64) ([]string, error) {
	return s.list(ctx, s.keys.Suspended, offset, limit, 0)
}

// list returns up to limit ids of the id set key (Keys.Dead or
// Keys.Suspended), oldest first, after skipping offset of its kept
// entries. Entries older than retentionMS (0: none) and ids whose request
// hash is gone are removed on the way and never returned, so the page is
// short only when the set has no more entries. Each script call does
// bounded work; list calls again until the page is full or the set ends.
func (s *Store) list(ctx context.Context, key string, offset, limit, retentionMS int64) ([]string, error) {
	var out []string
	for int64(len(out)) < limit {
		raw, err := listScript.Run(ctx, s.rdb, []string{key}, s.keys.Prefix, offset, limit-int64(len(out)),
			retentionMS).Slice()
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			return nil, fmt.Errorf("list: empty reply")
		}
		more, err := toInt64(raw[0])
		if err != nil {
			return nil, fmt.Errorf("list: more: %w", err)
		}
		ids, err := toStrings(raw[1:])
		if err != nil {
			return nil, fmt.Errorf("list: ids: %w", err)
		}
		out = append(out, ids...)
		if more == 0 {
			break
		}
		offset += int64(len(ids))
	}
	return out, nil
}

// Page returns up to limit ids of one index from position offset: a class
// queue ("low", "medium", "long") head first, or "active" (by lease
// deadline) or "scheduled" (by run-at time), soonest first. It does not
// prune: an id may name a request that has just moved on.
func (s *Store) Page(ctx context.Context, index string, offset, limit int64) ([]string, error) {
	stop := offset + limit - 1
	if q, ok := s.queueKey(index); ok {
		return s.rdb.LRange(ctx, q, offset, stop).Result()
	}
	switch index {
	case "active":
		return s.rdb.ZRange(ctx, s.keys.Active, offset, stop).Result()
	case "scheduled":
		return s.rdb.ZRange(ctx, s.keys.Scheduled, offset, stop).Result()
	}
	return nil, fmt.Errorf("page: unknown index %q", index)
}
