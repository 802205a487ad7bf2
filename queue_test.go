package llmqueue

import (
	"context"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueueManager_AddProcessComplete(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Budget: Budget{TPM: 1_000_000}})
		sizes := map[int64]Priority{100: PriorityLow, 20_000: PriorityMedium, 80_000: PriorityLong}
		ids := map[string]Priority{}
		for tokens, prio := range sizes {
			id, err := qm.Add(ctx, NewRequest(map[string]any{"prompt": "hi"}, WithEstimatedTokens(tokens), WithMeta(map[string]any{"user": "u1"})))
			require.NoError(t, err)
			ids[id] = prio
			st, err := qm.Status(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, StatusQueued, st.Status)
			assert.Equal(t, prio, st.Priority)
			assert.JSONEq(t, `"u1"`, string(st.Meta["user"]))
		}
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 3, m.TotalInQueue)

		rec := newRecorder(0)
		startProcessor(t, qm, rec, &WorkerConfig{Concurrency: 4})
		for id := range ids {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := qm.Wait(wctx, id)
			cancel()
			require.NoError(t, err)
			assert.Equal(t, StatusCompleted, st.Status)
			assert.JSONEq(t, `{"ok":true}`, string(st.Result))
			assert.Equal(t, 1, st.Attempts)
		}
		m, err = qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 0, m.TotalInQueue)
		assert.EqualValues(t, 3, m.TotalCompleted)
		assert.EqualValues(t, 1, m.LowCompleted)
		assert.Equal(t, 100.0, m.SuccessRatePercent)
		assert.EqualValues(t, 100_100, m.TokenUsage.Used)
	})
}
