package llmqueue

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A call that leaves for the provider well after its lease (here 100 ms:
// an SDK encoding a large prompt on a busy machine; the margin of a 10 s
// window is 200 ms, a stamp is renewed 25 ms late) has its reservation
// moved to no earlier than when it left, so the ledger holds it as long as
// the provider does; a call that leaves promptly keeps its lease's stamp.
func TestReservation_BeforeSendMovesALateStamp(t *testing.T) {
	// Not parallel: it counts late restamps, which a loaded machine adds.
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Budget: Budget{TPM: 10_000, Window: 10 * time.Second, SafetyBufferPercent: -1}})
		sent := make(chan time.Time, 2)
		proc := ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
			if job.Meta["slow"] != nil {
				time.Sleep(100 * time.Millisecond)
			}
			sent <- time.Now()
			BeforeSend(ctx)
			return &Result{}, nil
		})
		bp := startProcessor(t, qm, proc, &WorkerConfig{Concurrency: 1})
		run := func(opts ...RequestOption) (leased, stamped, left time.Time) {
			id, err := qm.Add(ctx, NewRequest(`{}`, append(opts, WithEstimatedTokens(100))...))
			require.NoError(t, err)
			st, err := qm.Wait(ctx, id)
			require.NoError(t, err)
			entries, err := rawClient(qm).ZRangeWithScores(ctx, rawKeys(qm).BudgetLog, 0, -1).Result()
			require.NoError(t, err)
			for _, e := range entries {
				if strings.Contains(e.Member.(string), ":"+id+":") {
					stamped = time.UnixMilli(int64(e.Score))
				}
			}
			require.False(t, stamped.IsZero(), "no ledger entry for %s", id)
			return st.StartedAt, stamped, <-sent
		}
		leased, stamped, _ := run()
		// A prompt call keeps its lease's stamp; on a loaded machine a
		// "prompt" start can pass the renewal threshold (12.5 ms here) and be
		// renewed, which only moves the stamp a little later.
		assert.WithinDuration(t, leased, stamped, 100*time.Millisecond, "a prompt call keeps about its lease's stamp")
		assert.False(t, stamped.Before(leased), "a renewal never moves a stamp earlier")
		// The first lease call also loads the scripts, which can pass the
		// threshold; count from here.
		base := bp.Status().LateRestamps

		leased, stamped, left := run(WithMeta(map[string]any{"slow": true}))
		assert.False(t, stamped.Before(left.Truncate(time.Millisecond)), "stamped %s, left %s", stamped, left)
		assert.GreaterOrEqual(t, stamped.Sub(leased), 100*time.Millisecond)
		// BeforeSend renewed it once; a loaded machine may also start
		// Process late (past 25 ms here), which renews it once more.
		late := bp.Status().LateRestamps - base
		assert.True(t, late == 1 || late == 2, "late restamps of the slow call: %d, want 1 (BeforeSend) or 2 (and a late start)", late)
	})
}
