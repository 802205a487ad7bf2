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

// TestLedger_LeasesAgainWhenTheLogIsGoneButSumsRemain stands for a Redis
// that evicted (or someone who deleted) the budget logs but not their
// running sums: with nothing left in the logs to expire, the sums used to
// stay at the limit forever and every lease answered "tokens".
func TestLedger_LeasesAgainWhenTheLogIsGoneButSumsRemain(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		k := rawKeys(qm)
		rdb := rawClient(qm)
		for _, key := range []string{k.BudgetSum, k.BudgetInSum, k.BudgetOutSum, k.BudgetDaySum} {
			require.NoError(t, rdb.Set(ctx, key, 1000, 0).Err())
		}
		require.NoError(t, rdb.Del(ctx, k.BudgetLog, k.BudgetDayLog).Err())
		id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(10)))
		require.NoError(t, err)

		res, err := qm.store.Lease(ctx, redisstore.LeaseArgs{Max: 1, Lease: time.Minute, Window: time.Minute,
			TPM: 1000, ITPM: 1000, OTPM: 1000, TPD: 1000, Cycle: [3]int{3, 2, 1}, WorkerID: "w"})
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1, "lease answered %q: the stale sums still bind", res.Reason)
		assert.Equal(t, id, res.Jobs[0].ID)
		for key, want := range map[string]string{k.BudgetSum: "10", k.BudgetInSum: "10", k.BudgetOutSum: "0",
			k.BudgetDaySum: "10"} {
			got, err := rdb.Get(ctx, key).Result()
			require.NoError(t, err)
			assert.Equal(t, want, got, key)
		}
	})
}

// TestLedger_MetricsDoNotReportStaleSumsOfAnEmptyLog: Metrics runs the same
// trim, so with no lease at all it reports the empty log as empty.
func TestLedger_MetricsDoNotReportStaleSumsOfAnEmptyLog(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Budget: Budget{TPM: 10_000, SafetyBufferPercent: -1}})
		k := rawKeys(qm)
		require.NoError(t, rawClient(qm).Set(ctx, k.BudgetSum, 10_000, 0).Err())
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 0, m.TokenUsage.Used)
		assert.EqualValues(t, 10_000, m.TokenUsage.Available)
	})
}
