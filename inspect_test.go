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

// elapse lets d pass for the server: miniredis expires keys only when told
// that time has passed.
func elapse(s *redistest.Server, d time.Duration) {
	time.Sleep(d)
	if s.Mini != nil {
		s.Mini.FastForward(d)
	}
}

// killMany queues n requests and sends them all to the dead letters in one
// lease call: their estimate of 10 never fits a 5-token window. Deaths
// keep their request hashes for retention.
func killMany(t *testing.T, qm *QueueManager, n int, retention time.Duration) []string {
	t.Helper()
	ctx := context.Background()
	reqs := make([]*Request, n)
	for i := range reqs {
		reqs[i] = NewRequest(`{}`, WithEstimatedTokens(10), WithMaxRetries(0))
	}
	ids, err := qm.AddMany(ctx, reqs)
	require.NoError(t, err)
	res, err := qm.store.Lease(ctx, redisstore.LeaseArgs{Max: n, Lease: time.Minute, Window: time.Minute,
		TPM: 5, Cycle: [3]int{3, 2, 1}, WorkerID: "w", RetentionMS: retention.Milliseconds()})
	require.NoError(t, err)
	require.Empty(t, res.Jobs)
	for _, id := range ids {
		st, err := qm.Status(ctx, id)
		require.NoError(t, err)
		require.Equal(t, StatusDead, st.Status)
	}
	return ids
}

// TestDeadSet_ExpiredIDsArePrunedAndNotCounted: the request hashes of the
// dead expire with the retention; their ids must leave the dead set too,
// and Metrics must not count them meanwhile.
func TestDeadSet_ExpiredIDsArePrunedAndNotCounted(t *testing.T) {
	// Not parallel: a 300 ms retention must outlast reading 150 statuses.
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		const retention = 300 * time.Millisecond
		qm := newManager(t, s, &Config{Retention: retention})
		dead := rawKeys(qm).Dead
		for range 3 {
			killMany(t, qm, 150, retention)
			elapse(s, retention+100*time.Millisecond)
		}
		// The third round's lease call pruned the second round; the first
		// was pruned by the second's.
		n, err := rawClient(qm).ZCard(ctx, dead).Result()
		require.NoError(t, err)
		assert.EqualValues(t, 150, n, "only the last round is left in the dead set")

		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 0, m.Dead, "every dead request has expired")
		ids, err := listIDs(ctx, qm, StatusDead, 0, 100)
		require.NoError(t, err)
		assert.Empty(t, ids)

		// Any lease call prunes what is left.
		_, err = qm.store.Lease(ctx, redisstore.LeaseArgs{Max: 1, Lease: time.Minute, Window: time.Minute,
			Cycle: [3]int{3, 2, 1}, WorkerID: "w", RetentionMS: retention.Milliseconds()})
		require.NoError(t, err)
		n, err = rawClient(qm).ZCard(ctx, dead).Result()
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// TestListDead_PageSkipsIDsWhoseRequestIsGone: request hashes deleted by
// hand (or evicted) leave ids behind in the dead set; a page skips them and
// keeps filling, so it is never empty while live entries remain.
func TestListDead_PageSkipsIDsWhoseRequestIsGone(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Retention: time.Hour})
		killMany(t, qm, 250, time.Hour)
		k := rawKeys(qm)
		order, err := rawClient(qm).ZRange(ctx, k.Dead, 0, -1).Result()
		require.NoError(t, err)
		require.Len(t, order, 250)
		for _, id := range order[:150] {
			require.NoError(t, rawClient(qm).Del(ctx, k.Request(id)).Err())
		}

		page, err := listIDs(ctx, qm, StatusDead, 0, 100)
		require.NoError(t, err)
		assert.Equal(t, order[150:250], page)
		page, err = listIDs(ctx, qm, StatusDead, 50, 100)
		require.NoError(t, err)
		assert.Equal(t, order[200:250], page, "the offset counts live entries")
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 100, m.Dead, "the gone ids were pruned")
	})
}

// TestListSuspended_PageSkipsIDsWhoseRequestIsGone is the same for the
// suspended set, whose requests never expire but can be deleted.
func TestListSuspended_PageSkipsIDsWhoseRequestIsGone(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		for range 12 {
			_, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
			require.NoError(t, err)
			job := leaseDirect(t, qm, time.Minute)
			_, err = qm.store.Fail(ctx, redisstore.FailArgs{ID: job.ID, Token: job.Lease, Kind: "suspend",
				Message: "ask a human", Window: time.Minute, Settle: redisstore.Keep})
			require.NoError(t, err)
		}
		k := rawKeys(qm)
		order, err := rawClient(qm).ZRange(ctx, k.Suspended, 0, -1).Result()
		require.NoError(t, err)
		require.Len(t, order, 12)
		for _, id := range order[:8] {
			require.NoError(t, rawClient(qm).Del(ctx, k.Request(id)).Err())
		}
		page, err := listIDs(ctx, qm, StatusSuspended, 0, 3)
		require.NoError(t, err)
		assert.Equal(t, order[8:11], page)
		page, err = listIDs(ctx, qm, StatusSuspended, 3, 3)
		require.NoError(t, err)
		assert.Equal(t, order[11:], page)
	})
}
