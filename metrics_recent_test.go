package llmqueue

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

// TestMetrics_LastMinuteAndDimensions runs completed, dead, canceled and
// rate-limited requests and reads them back from Metrics.LastMinute, and the
// window use of every budget dimension from Metrics.Dimensions.
func TestMetrics_LastMinuteAndDimensions(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{
			Namespace: "recent",
			Budget:    Budget{TPM: 100_000, RPM: 1_000, TPD: 5_000_000, SafetyBufferPercent: -1},
		})
		var limitedOnce sync.Once
		proc := ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
			switch string(job.Payload) {
			case `{"do":"die"}`:
				return nil, Permanent(errors.New("bad prompt"))
			case `{"do":"429"}`:
				limited := false
				limitedOnce.Do(func() { limited = true })
				if limited {
					return nil, RateLimited(10*time.Millisecond, errors.New("429"))
				}
			}
			return &Result{Output: []byte(`"ok"`), Usage: Usage{InputTokens: 80, OutputTokens: 20}}, nil
		})
		var ids []string
		for _, p := range []string{"ok", "ok", "ok", "die", "429"} {
			id, err := qm.Add(ctx, NewRequest(map[string]string{"do": p}, WithEstimatedTokens(100)))
			require.NoError(t, err)
			ids = append(ids, id)
		}
		idle, err := qm.Add(ctx, NewRequest(map[string]string{"do": "cancel me"}, WithEstimatedTokens(100), WithPriority(PriorityLong)))
		require.NoError(t, err)
		_, err = qm.Cancel(ctx, idle)
		require.NoError(t, err)
		startProcessor(t, qm, proc, &WorkerConfig{Concurrency: 1, PollInterval: 5 * time.Millisecond})
		_, err = qm.WaitAll(ctx, ids)
		require.NoError(t, err)

		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		require.Equal(t, RecentEvents{Completed: 4, Failed: 1, Canceled: 1, RateLimited: 1}, m.LastMinute)

		byName := map[string]DimensionUse{}
		for _, d := range m.Dimensions {
			byName[d.Name] = d
		}
		require.Len(t, byName, 6)
		tests := []struct {
			name          string
			usable, limit int64
			window        float64
		}{
			{"tokens", 100_000, 100_000, 60},
			{"input_tokens", 0, 0, 60},
			{"output_tokens", 0, 0, 60},
			{"requests", 1_000, 1_000, 60},
			{"tokens_per_day", 5_000_000, 5_000_000, 86_400},
			{"requests_per_day", 0, 0, 86_400},
		}
		for _, tc := range tests {
			d := byName[tc.name]
			require.Equal(t, tc.usable, d.Usable, tc.name)
			require.Equal(t, tc.limit, d.Limit, tc.name)
			require.Equal(t, tc.window, d.WindowSeconds, tc.name)
		}
		// Six attempts started (one was rate limited and ran again).
		require.Equal(t, int64(6), byName["requests"].Used)
		require.Positive(t, byName["tokens"].Used)
		require.Equal(t, byName["tokens"].Used, byName["tokens_per_day"].Used)
	})
}

// TestMetrics_WatcherReportsTheWorkersBudget checks that a manager with no
// budget of its own (a CLI, a dashboard) reports the limits the live
// workers enforce, as their heartbeats published them.
func TestMetrics_WatcherReportsTheWorkersBudget(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		worker := newManager(t, s, &Config{Namespace: "watch", Budget: Budget{TPM: 50_000, RPM: 100}})
		startProcessor(t, worker, ProcessorFunc(func(context.Context, *Job) (*Result, error) { return &Result{}, nil }),
			&WorkerConfig{Concurrency: 1, PollInterval: 5 * time.Millisecond})
		watcher := newManager(t, s, &Config{Namespace: "watch"})
		var m *Metrics
		waitFor(t, 5*time.Second, func() bool {
			var err error
			m, err = watcher.Metrics(ctx)
			return err == nil && len(m.Workers) == 1
		}, "the worker registered")
		require.NotNil(t, m.Workers[0].Budget)
		require.Equal(t, int64(45_000), m.Workers[0].Budget.Usable["tpm"])
		want := map[string][2]int64{"tokens": {45_000, 50_000}, "requests": {90, 100}, "input_tokens": {0, 0}}
		for _, d := range m.Dimensions {
			if w, ok := want[d.Name]; ok {
				require.Equal(t, w, [2]int64{d.Usable, d.Limit}, d.Name)
			}
		}
	})
}
