package redisstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// Statuses returns each request's status field in the order of ids: the
// hash's status, "queued" for a request still in its compact form, and ""
// for one that does not exist. It reads with a plain pipeline, not MULTI,
// so it may answer "" for a request the lease script is turning into a
// hash at that moment; callers use it to decide whom to re-read with Get,
// and a needless re-read is harmless. It sends all ids in one pipeline:
// callers keep a call to a few hundred.
func (s *Store) Statuses(ctx context.Context, ids []string) ([]string, error) {
	pipe := s.rdb.Pipeline()
	hget := make([]*redis.StringCmd, len(ids))
	packed := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		hget[i] = pipe.HGet(ctx, s.keys.Request(id), fieldStatus)
		packed[i] = pipe.Exists(ctx, s.keys.Queued(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]string, len(ids))
	for i := range ids {
		switch {
		case hget[i].Err() == nil:
			out[i] = hget[i].Val()
		case packed[i].Val() > 0:
			out[i] = "queued"
		}
	}
	return out, nil
}
