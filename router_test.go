package llmqueue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

// deploymentFake is a Processor standing for one deployment: it counts the
// calls it served and fails them while down.
type deploymentFake struct {
	calls  atomic.Int64
	down   atomic.Bool
	err    error // returned while down; nil means a connection error
	served atomic.Int64
	mu     sync.Mutex
	ids    []string
	starts []time.Time // of every call, in order
}

func (d *deploymentFake) Process(ctx context.Context, job *Job) (*Result, error) {
	d.calls.Add(1)
	d.mu.Lock()
	d.starts = append(d.starts, time.Now())
	d.mu.Unlock()
	if d.down.Load() {
		if d.err != nil {
			return nil, d.err
		}
		return nil, errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	}
	d.served.Add(1)
	d.mu.Lock()
	d.ids = append(d.ids, job.ID+"@"+job.Deployment)
	d.mu.Unlock()
	return &Result{Output: []byte(`"ok"`), Usage: Usage{InputTokens: job.EstimatedTokens}}, nil
}

// callStarts returns when each call started, in order.
func (d *deploymentFake) callStarts() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.starts)
}

// longestPause returns the longest time between from and the first of
// starts after it, or between two of them after it.
func longestPause(from time.Time, starts []time.Time) time.Duration {
	var longest time.Duration
	for _, at := range starts {
		if at.After(from) {
			longest = max(longest, at.Sub(from))
			from = at
		}
	}
	return longest
}

// startRouter starts a Router over deps and shuts it down at cleanup.
func startRouter(t *testing.T, qm *QueueManager, deps []Deployment, cfg *WorkerConfig) *Router {
	t.Helper()
	r, err := NewRouter(qm, deps, cfg)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return r
}

func addEach(t *testing.T, qm *QueueManager, n int, tokens int64) []string {
	t.Helper()
	reqs := make([]*Request, n)
	for i := range reqs {
		reqs[i] = NewRequest(map[string]int{"n": i}, WithEstimatedTokens(tokens))
	}
	ids, err := qm.AddMany(context.Background(), reqs)
	require.NoError(t, err)
	return ids
}

// TestRouter_FailsOverWithoutSpendingARetryAndProbesBackIn takes one of two
// deployments down: every request completes on the other with one attempt,
// and the down one serves again once it is back.
func TestRouter_FailsOverWithoutSpendingARetryAndProbesBackIn(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "router"})
		a, b := &deploymentFake{}, &deploymentFake{}
		a.down.Store(true)
		var failovers, completedOnB atomic.Int64
		hook := func(ev AttemptEvent) {
			switch {
			case ev.FailedOver && ev.Deployment == "a":
				failovers.Add(1)
			case ev.Status == StatusCompleted && ev.Deployment == "b":
				completedOnB.Add(1)
			}
		}
		r := startRouter(t, qm, []Deployment{
			{Name: "a", Budget: Budget{TPM: 1_000_000}, Processor: a},
			{Name: "b", Budget: Budget{TPM: 1_000_000}, Processor: b},
		}, &WorkerConfig{Concurrency: 4, PollInterval: 10 * time.Millisecond, WorkerID: "w", AttemptHooks: []func(AttemptEvent){hook}})

		ids := addEach(t, qm, 40, 100)
		final, err := qm.WaitAll(ctx, ids)
		require.NoError(t, err)
		for _, st := range final {
			require.Equal(t, StatusCompleted, st.Status)
			require.Equal(t, 1, st.Attempts, "a failover spends no retry: %s", st.ID)
		}
		require.Equal(t, int64(40), b.served.Load())
		// Hooks run after the ack, so after Wait may have returned.
		waitFor(t, 5*time.Second, func() bool {
			return completedOnB.Load() == 40 && failovers.Load() == a.calls.Load()
		}, "attempt hooks name the deployment, and each call a failed is a fail-over")
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		require.Zero(t, m.TotalRetried)

		use, err := r.Usage(ctx)
		require.NoError(t, err)
		require.Equal(t, "a", use[0].Name)
		require.Positive(t, a.calls.Load(), "the down deployment was tried")
		require.Zero(t, use[1].CooldownSeconds, "the healthy one never cools down")

		a.down.Store(false)
		waitFor(t, 40*time.Second, func() bool {
			addEach(t, qm, 4, 100)
			time.Sleep(100 * time.Millisecond)
			return a.served.Load() > 0
		}, "the deployment is probed back in once it is up")
	})
}

// TestRouter_RateLimitPausesOnlyThatDeployment checks that a 429 with a
// Retry-After on one deployment leaves the other's throughput alone.
func TestRouter_RateLimitPausesOnlyThatDeployment(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "router429"})
		a := &deploymentFake{err: RateLimited(5*time.Second, errors.New("429 too many requests"))}
		b := &deploymentFake{}
		a.down.Store(true)
		r := startRouter(t, qm, []Deployment{
			{Name: "a", Budget: Budget{TPM: 1_000_000}, Processor: a},
			{Name: "b", Budget: Budget{TPM: 1_000_000}, Processor: b},
		}, &WorkerConfig{Concurrency: 2, PollInterval: 10 * time.Millisecond})
		ids := addEach(t, qm, 30, 100)
		start := time.Now()
		final, err := qm.WaitAll(ctx, ids)
		require.NoError(t, err)
		// Had a's 429 paused b too, b's calls would stop for about 5 s
		// after it; a loaded machine only spaces them out.
		aStarts := a.callStarts()
		require.NotEmpty(t, aStarts, "a was called")
		require.Less(t, longestPause(aStarts[0], b.callStarts()), 4*time.Second, "b kept going while a waited out its 5 s")
		for _, st := range final {
			require.Equal(t, StatusCompleted, st.Status)
			require.Equal(t, 1, st.Attempts)
		}
		require.LessOrEqual(t, a.calls.Load(), int64(2), "after its first 429, a leased nothing more: at most its 2 slots ran")
		use, err := r.Usage(ctx)
		require.NoError(t, err)
		if time.Since(start) < 4*time.Second {
			require.Positive(t, use[0].CooldownSeconds, "a honours the 5 s Retry-After")
		}
		require.Zero(t, use[1].CooldownSeconds)
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		require.Zero(t, m.CooldownSeconds, "the namespace itself is not cooling down")
	})
}

// TestRouter_EachDeploymentLeasesWithinItsOwnBudget runs a backlog larger
// than both budgets: each deployment's window holds no more than its own
// usable limit, and both serve.
func TestRouter_EachDeploymentLeasesWithinItsOwnBudget(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "routerbudget"})
		a, b := &deploymentFake{}, &deploymentFake{}
		r := startRouter(t, qm, []Deployment{
			{Name: "small", Budget: Budget{TPM: 2_000, Window: time.Hour, SafetyBufferPercent: -1}, Processor: a},
			{Name: "big", Budget: Budget{TPM: 6_000, Window: time.Hour, SafetyBufferPercent: -1}, Processor: b},
		}, &WorkerConfig{Concurrency: 4, PollInterval: 10 * time.Millisecond})
		addEach(t, qm, 100, 100)
		waitFor(t, 10*time.Second, func() bool { return a.served.Load()+b.served.Load() == 80 }, "both windows filled")
		time.Sleep(200 * time.Millisecond)
		require.Equal(t, int64(20), a.served.Load(), "small: 2,000 tokens")
		require.Equal(t, int64(60), b.served.Load(), "big: 6,000 tokens")
		use, err := r.Usage(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2_000), use[0].Dimensions[0].Used)
		require.Equal(t, int64(6_000), use[1].Dimensions[0].Used)
		c, err := qm.Inspector().Counts(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(20), c.Queued[PriorityLow], "the rest waits for a window")
	})
}

func TestNewRouter_RefusesBadDeployments(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, nil)
	p := ProcessorFunc(func(context.Context, *Job) (*Result, error) { return &Result{}, nil })
	tests := []struct {
		name string
		deps []Deployment
	}{
		{"none", nil},
		{"bad name", []Deployment{{Name: "a b", Processor: p}}},
		{"empty name", []Deployment{{Processor: p}}},
		{"twice", []Deployment{{Name: "a", Processor: p}, {Name: "a", Processor: p}}},
		{"no processor", []Deployment{{Name: "a"}}},
		{"only fallbacks", []Deployment{{Name: "a", Processor: p, Fallback: true}}},
		{"bad budget", []Deployment{{Name: "a", Processor: p, Budget: Budget{TPM: -1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRouter(qm, tc.deps, nil)
			require.Error(t, err)
		})
	}
}

// TestRouter_PinnedRequestsRunOnlyWhereTheyArePinned pins half the
// requests to one of two healthy deployments.
func TestRouter_PinnedRequestsRunOnlyWhereTheyArePinned(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "pins"})
		eu, us := &deploymentFake{}, &deploymentFake{}
		startRouter(t, qm, []Deployment{
			{Name: "eu-west", Processor: eu},
			{Name: "us-east", Processor: us},
		}, &WorkerConfig{Concurrency: 2, PollInterval: 5 * time.Millisecond})
		var pinned, free []string
		for i := range 20 {
			id, err := qm.Add(ctx, NewRequest(map[string]int{"n": i}, WithEstimatedTokens(10), WithDeployments("eu-west")))
			require.NoError(t, err)
			pinned = append(pinned, id)
			id, err = qm.Add(ctx, NewRequest(map[string]int{"m": i}, WithEstimatedTokens(10)))
			require.NoError(t, err)
			free = append(free, id)
		}
		final, err := qm.WaitAll(ctx, append(append([]string(nil), pinned...), free...))
		require.NoError(t, err)
		for _, id := range pinned {
			require.Equal(t, StatusCompleted, final[id].Status)
			require.Equal(t, "eu-west", final[id].Deployment, "pinned %s", id)
		}
		for _, id := range free {
			require.Equal(t, StatusCompleted, final[id].Status)
		}
	})
}

func TestWithDeployments_RefusesBadNames(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, nil)
	for name, opt := range map[string]RequestOption{
		"none":      WithDeployments(),
		"bad name":  WithDeployments("eu west"),
		"not names": WithMeta(map[string]any{"llmqueue.deployments": "eu-west"}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := qm.Add(context.Background(), NewRequest(`{}`, WithEstimatedTokens(1), opt))
			require.ErrorIs(t, err, ErrInvalidRequest)
		})
	}
}
