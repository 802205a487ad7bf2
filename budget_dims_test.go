package llmqueue

import (
	"context"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every dimension of a Budget is enforced on its own: a request is leased
// only when its charge fits all of them, and the lease names the one that
// binds.
func TestBudget_EveryDimensionBinds(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	const window = 2 * time.Second
	cases := []struct {
		name   string
		budget Budget
		est    Usage
		want   int // starts in the first window (or in all, for per-day limits)
		reason string
	}{
		{"input tokens", Budget{ITPM: 5_000}, Usage{InputTokens: 1_000, OutputTokens: 10}, 5, "input_tokens"},
		{"output tokens", Budget{OTPM: 3_000}, Usage{InputTokens: 10, OutputTokens: 1_000}, 3, "output_tokens"},
		{"tokens per day", Budget{TPD: 4_000}, Usage{InputTokens: 500, OutputTokens: 500}, 4, "tokens_per_day"},
		{"requests per day", Budget{RPD: 3}, Usage{InputTokens: 1}, 3, "requests_per_day"},
		{"the tightest of several", Budget{TPM: 100_000, ITPM: 50_000, OTPM: 2_500, RPM: 100},
			Usage{InputTokens: 100, OutputTokens: 500}, 5, "output_tokens"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, s *redistest.Server) {
				ctx := context.Background()
				bud := tc.budget
				bud.Window, bud.SafetyBufferPercent = window, -1
				qm := newManager(t, s, &Config{Budget: bud})
				reqs := make([]*Request, 3*tc.want)
				for i := range reqs {
					reqs[i] = NewRequest(`{}`, WithEstimatedUsage(tc.est))
				}
				_, err := qm.AddMany(ctx, reqs)
				require.NoError(t, err)
				rec := newRecorder(0)
				bp := startProcessor(t, qm, rec, &WorkerConfig{Concurrency: 4})
				waitFor(t, 5*time.Second, func() bool { return rec.count() >= tc.want }, "the budget's worth")
				time.Sleep(window / 2)
				assert.Equal(t, tc.want, rec.count(), "starts in the first half window")
				assert.Equal(t, "limited: "+tc.reason, bp.Status().QuotaStatus)
			})
		})
	}
}

// A request whose charge exceeds a usable dimension on its own could never
// run: Add refuses it.
func TestBudget_AddRefusesWhatCanNeverFit(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		qm := newManager(t, s, &Config{Budget: Budget{ITPM: 5_000, OTPM: 1_000, SafetyBufferPercent: -1}})
		for _, u := range []Usage{{InputTokens: 5_001}, {InputTokens: 10, OutputTokens: 1_001}} {
			_, err := qm.Add(context.Background(), NewRequest(`{}`, WithEstimatedUsage(u)))
			assert.ErrorIs(t, err, ErrOverBudget, "%+v", u)
		}
		_, err := qm.Add(context.Background(), NewRequest(`{}`, WithEstimatedUsage(Usage{InputTokens: 5_000, OutputTokens: 1_000})))
		assert.NoError(t, err)
	})
}
