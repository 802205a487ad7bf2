package llmqueue

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

func TestPrice_Cost(t *testing.T) {
	gpt4o := Price{InputPerMillion: 2.50, CachedInputPerMillion: 1.25, OutputPerMillion: 10}
	tests := []struct {
		name  string
		p     Price
		u     Usage
		nanos int64
	}{
		{"input and output", gpt4o, Usage{InputTokens: 1000, OutputTokens: 500}, 2_500_000 + 5_000_000},
		{"cached input", gpt4o, Usage{InputTokens: 800, CacheReadInputTokens: 200, OutputTokens: 500}, 2_000_000 + 250_000 + 5_000_000},
		{"cache writes cost as input", gpt4o, Usage{CacheCreationInputTokens: 100}, 250_000},
		{"a fraction of a nano-dollar rounds", Price{InputPerMillion: 0.0001}, Usage{InputTokens: 4}, 0},
		{"no usage", gpt4o, Usage{}, 0},
		{"free model", Price{}, Usage{InputTokens: 1000}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.nanos, tc.p.cost(tc.u))
		})
	}
}

func TestConfig_RefusesBadPrices(t *testing.T) {
	s := redistest.StartMini(t)
	for name, prices := range map[string]map[string]Price{
		"negative": {"m": {InputPerMillion: -1}},
		"NaN":      {"m": {OutputPerMillion: math.NaN()}},
		"infinite": {"m": {CachedInputPerMillion: math.Inf(1)}},
		"no model": {"": {InputPerMillion: 1}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewQueueManager(s.Client(t), &Config{Prices: prices})
			require.Error(t, err)
		})
	}
}

// TestCost_PerRequestDeploymentAndModel runs known usage on two
// deployments of two models and checks the exact dollars in each request's
// status and in Metrics, in all, by deployment and by model.
func TestCost_PerRequestDeploymentAndModel(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "cost", Prices: map[string]Price{
			"gpt-4o":      {InputPerMillion: 2.50, CachedInputPerMillion: 1.25, OutputPerMillion: 10},
			"gpt-4o-mini": {InputPerMillion: 0.15, CachedInputPerMillion: 0.075, OutputPerMillion: 0.60},
		}})
		usage := Usage{InputTokens: 800, CacheReadInputTokens: 200, OutputTokens: 500}
		big := ProcessorFunc(func(context.Context, *Job) (*Result, error) {
			return &Result{Output: []byte(`1`), Usage: usage}, nil
		})
		// The mini deployment's processor names the model itself.
		mini := ProcessorFunc(func(context.Context, *Job) (*Result, error) {
			return &Result{Output: []byte(`1`), Usage: usage, Model: "gpt-4o-mini"}, nil
		})
		startRouter(t, qm, []Deployment{
			{Name: "east", Model: "gpt-4o", Processor: big},
			{Name: "west", Processor: mini},
		}, &WorkerConfig{Concurrency: 2, PollInterval: 5 * time.Millisecond})

		final, err := qm.WaitAll(ctx, addEach(t, qm, 40, 1000))
		require.NoError(t, err)
		const bigUSD, miniUSD = 0.00725, 0.000435 // 800 x 2.50 + 200 x 1.25 + 500 x 10, per million
		served := map[string]int{}
		for _, st := range final {
			require.Equal(t, StatusCompleted, st.Status)
			served[st.Deployment]++
			want := map[string]float64{"east": bigUSD, "west": miniUSD}[st.Deployment]
			require.InDelta(t, want, st.CostUSD, 1e-12, "%s on %q", st.ID, st.Deployment)
		}
		require.Equal(t, 40, served["east"]+served["west"])
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		wantEast, wantWest := float64(served["east"])*bigUSD, float64(served["west"])*miniUSD
		require.InDelta(t, wantEast+wantWest, m.CostUSD, 1e-9)
		if served["east"] > 0 {
			require.InDelta(t, wantEast, m.CostByDeployment["east"], 1e-9)
			require.InDelta(t, wantEast, m.CostByModel["gpt-4o"], 1e-9)
		}
		if served["west"] > 0 {
			require.InDelta(t, wantWest, m.CostByDeployment["west"], 1e-9)
			require.InDelta(t, wantWest, m.CostByModel["gpt-4o-mini"], 1e-9)
		}
	})
}

// TestSpendLimit_StopsLeasingWithinOneRequestOfTheLimit gives a deployment
// a daily spend limit: each lease reserves the estimate's cost, the
// completion trues it up to the real one, and leasing stops when the next
// estimate would pass the limit.
func TestSpendLimit_StopsLeasingWithinOneRequestOfTheLimit(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "spend", Prices: map[string]Price{
			"gpt-4o": {InputPerMillion: 2.50, OutputPerMillion: 10},
		}})
		// Estimated: 1,000 in + 500 out = $0.0075; used: 1,000 in = $0.0025.
		proc := ProcessorFunc(func(context.Context, *Job) (*Result, error) {
			return &Result{Output: []byte(`1`), Usage: Usage{InputTokens: 1000}}, nil
		})
		r := startRouter(t, qm, []Deployment{{Name: "east", Model: "gpt-4o", Processor: proc, DailySpendLimitUSD: 0.02}},
			&WorkerConfig{Concurrency: 1, PollInterval: 5 * time.Millisecond})
		reqs := make([]*Request, 10)
		for i := range reqs {
			reqs[i] = NewRequest(map[string]int{"n": i}, WithEstimatedUsage(Usage{InputTokens: 1000, OutputTokens: 500}))
		}
		_, err := qm.AddMany(ctx, reqs)
		require.NoError(t, err)

		// After k completions $0.0025k is spent; a lease needs $0.0075 of
		// room: 6 run ($0.0125 + $0.0075 = $0.02), the 7th would pass it.
		waitFor(t, 5*time.Second, func() bool {
			m, err := qm.Metrics(ctx)
			return err == nil && m.TotalCompleted == 6
		}, "six requests fit the day's limit")
		time.Sleep(300 * time.Millisecond)
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(6), m.TotalCompleted, "leasing stopped at the limit")
		require.Equal(t, int64(4), m.TotalInQueue)
		require.InDelta(t, 0.015, m.CostByDeployment["east"], 1e-12)
		require.Equal(t, WorkerHealth("quota_limited"), r.Status()["east"].HealthStatus)
	})
}

func TestNewRouter_SpendLimitNeedsAPrice(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, nil)
	p := ProcessorFunc(func(context.Context, *Job) (*Result, error) { return &Result{}, nil })
	_, err := NewRouter(qm, []Deployment{{Name: "a", Model: "unpriced", Processor: p, DailySpendLimitUSD: 1}}, nil)
	require.ErrorIs(t, err, ErrInvalidRequest)
	_, err = NewRouter(qm, []Deployment{{Name: "a", Processor: p, DailySpendLimitUSD: -1}}, nil)
	require.ErrorIs(t, err, ErrInvalidRequest)
}
