package redisstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// SubscribeEvents subscribes to the terminal transitions of the
// namespace's requests ("id status" messages).
func (s *Store) SubscribeEvents(ctx context.Context) *redis.PubSub {
	return s.rdb.Subscribe(ctx, s.keys.Events)
}

// SubscribeWorker subscribes to what a worker listens to: cancels of
// active requests ("id canceling") and Add's and Resume's wake-ups; see
// IsWakeUp.
func (s *Store) SubscribeWorker(ctx context.Context) *redis.PubSub {
	return s.rdb.Subscribe(ctx, s.keys.Cancels, s.keys.Added)
}

// IsWakeUp reports whether m is a wake-up (new work, or processing
// resumed) rather than a cancel.
func (s *Store) IsWakeUp(m *redis.Message) bool { return m.Channel == s.keys.Added }

// CyclePosition returns the namespace's shared cycle position; ok is
// false when none is stored yet.
func (s *Store) CyclePosition(ctx context.Context) (pos int, ok bool, err error) {
	v, err := s.rdb.Get(ctx, s.keys.Cycle).Result()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, false, nil
	}
	return n, true, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }
