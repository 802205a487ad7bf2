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

// TestCancel_CanceledRequestAgainSucceeds: a cancel repeated (a client
// retrying after a lost reply, two operators clicking) answers canceled
// again and counts the cancel once; a finished request still refuses.
func TestCancel_CanceledRequestAgainSucceeds(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		for i := range 2 {
			after, err := qm.Cancel(ctx, id)
			require.NoError(t, err, "cancel %d", i+1)
			assert.Equal(t, StatusCanceled, after)
		}
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, m.TotalCanceled)

		done, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		job := leaseDirect(t, qm, time.Minute)
		require.Equal(t, done, job.ID)
		require.NoError(t, qm.store.Complete(ctx, redisstore.CompleteArgs{ID: done, Token: job.Lease,
			Result: []byte(`1`), Settle: redisstore.Keep}, time.Minute, 60_000))
		_, err = qm.Cancel(ctx, done)
		assert.ErrorIs(t, err, ErrInvalidState)
	})
}
