package llmqueue

import (
	"context"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaseDirect leases like a worker would and returns what it got,
// standing for a process that then dies without acking.
func leaseDirect(t *testing.T, qm *QueueManager, lease time.Duration) redisstore.Leased {
	t.Helper()
	res, err := qm.store.Lease(context.Background(), redisstore.LeaseArgs{
		Max: 1, Lease: lease, Window: qm.cfg.budget.ledgerWindow(), Cycle: [3]int{3, 2, 1},
		WorkerID: "doomed", RetentionMS: qm.cfg.retention.Milliseconds(),
	})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	return res.Jobs[0]
}

func TestCrash_AbandonedLeaseIsRecoveredAndCompletedOnce(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		id, err := qm.Add(ctx, NewRequest(`{"q":1}`, WithEstimatedTokens(10)))
		require.NoError(t, err)

		dead := leaseDirect(t, qm, 300*time.Millisecond)
		require.Equal(t, id, dead.ID)
		st, err := qm.Status(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StatusActive, st.Status)

		rec := newRecorder(0)
		startProcessor(t, newManager(t, s, nil), rec, &WorkerConfig{Concurrency: 2, PollInterval: 20 * time.Millisecond})
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		final, err := qm.Wait(wctx, id)
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, final.Status)
		assert.Equal(t, 2, final.Attempts, "the abandoned attempt counts")
		assert.Equal(t, 1, rec.done[id])

		// The dead worker wakes up and acks late: every ack is refused.
		oldToken := dead.Lease
		err = qm.store.Complete(ctx, redisstore.CompleteArgs{ID: id, Token: oldToken, Result: []byte(`{"late":true}`),
			Settle: redisstore.Keep}, time.Minute, 1000)
		assert.ErrorIs(t, err, redisstore.ErrStale)
		_, err = qm.store.Fail(ctx, redisstore.FailArgs{ID: id, Token: oldToken, Kind: "retry", Window: time.Minute})
		assert.ErrorIs(t, err, redisstore.ErrStale)
		job := &Job{ID: id, setMeta: func(ctx context.Context, k string, v []byte) error {
			return qm.wrap("set meta", id, qm.store.SetMeta(ctx, id, oldToken, k, v))
		}}
		assert.ErrorIs(t, job.SetMeta(ctx, "progress", 1), ErrStaleLease)

		after, err := qm.Status(ctx, id)
		require.NoError(t, err)
		assert.JSONEq(t, `{"ok":true}`, string(after.Result), "the late ack changed nothing")
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, m.TotalCompleted)
	})
}

func TestCrash_LeaseExpiryAfterRetriesSpentIsDead(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(0)))
		require.NoError(t, err)
		leaseDirect(t, qm, 100*time.Millisecond)
		time.Sleep(150 * time.Millisecond)
		// Any lease call recovers expired leases.
		_, err = qm.store.Lease(ctx, redisstore.LeaseArgs{Max: 1, Lease: time.Second, Window: time.Minute, Cycle: [3]int{3, 2, 1}})
		require.NoError(t, err)
		st, err := qm.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, StatusDead, st.Status)
		assert.Contains(t, st.Error, "lease expired")
	})
}

// TestStore_RetriedCallsAreIdempotent replays a lease and an ack the way a
// client does after a lost reply: the replay must answer the first call's
// outcome, not lease more work or call the ack stale.
func TestStore_RetriedCallsAreIdempotent(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		addClass(t, qm, 4, 10)
		args := redisstore.LeaseArgs{Max: 2, Lease: time.Minute, Window: time.Minute, Cycle: [3]int{3, 2, 1},
			WorkerID: "w1", CallID: "7"}
		first, err := qm.store.Lease(ctx, args)
		require.NoError(t, err)
		require.Len(t, first.Jobs, 2)
		replay, err := qm.store.Lease(ctx, args)
		require.NoError(t, err)
		require.Len(t, replay.Jobs, 2)
		for i := range first.Jobs {
			assert.Equal(t, first.Jobs[i].ID, replay.Jobs[i].ID)
			assert.Equal(t, first.Jobs[i].Lease, replay.Jobs[i].Lease)
		}
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 2, m.TotalInQueue, "the replay leased nothing more")

		args.CallID = "8"
		next, err := qm.store.Lease(ctx, args)
		require.NoError(t, err)
		assert.Len(t, next.Jobs, 2, "a new call leases the rest")

		done := redisstore.CompleteArgs{ID: first.Jobs[0].ID, Token: first.Jobs[0].Lease, Result: []byte(`1`),
			Settle: redisstore.Keep}
		require.NoError(t, qm.store.Complete(ctx, done, time.Minute, 60_000))
		require.NoError(t, qm.store.Complete(ctx, done, time.Minute, 60_000), "the same ack again is not stale")
		failed := redisstore.FailArgs{ID: first.Jobs[1].ID, Token: first.Jobs[1].Lease, Kind: "retry",
			Message: "x", Window: time.Minute}
		st1, err := qm.store.Fail(ctx, failed)
		require.NoError(t, err)
		st2, err := qm.store.Fail(ctx, failed)
		require.NoError(t, err)
		assert.Equal(t, st1, st2)
		m, err = qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, m.TotalCompleted, "counted once")
		assert.EqualValues(t, 1, m.TotalRetried, "counted once")
	})
}
