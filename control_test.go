package llmqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithPriority_OverridesTheClassNotTheCharge(t *testing.T) {
	cases := []struct {
		name     string
		tokens   int64
		force    Priority
		want     Priority
		wantErr  error
		budgeted bool
	}{
		{name: "estimate decides", tokens: 100, want: PriorityLow},
		{name: "small forced long", tokens: 100, force: PriorityLong, want: PriorityLong},
		{name: "large forced low", tokens: 80_000, force: PriorityLow, want: PriorityLow},
		{name: "medium forced", tokens: 1, force: PriorityMedium, want: PriorityMedium},
		{name: "unknown class", tokens: 1, force: "urgent", wantErr: ErrInvalidRequest},
		{name: "forced low still over budget", tokens: 2_000, force: PriorityLow, wantErr: ErrOverBudget, budgeted: true},
	}
	s := redistest.StartMini(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{Namespace: fmt.Sprint("prio", i)}
			if tc.budgeted {
				cfg.Budget = Budget{TPM: 1_000, SafetyBufferPercent: -1}
			}
			qm := newManager(t, s, cfg)
			ro := []RequestOption{WithEstimatedTokens(tc.tokens)}
			if tc.force != "" {
				ro = append(ro, WithPriority(tc.force))
			}
			id, err := qm.Add(context.Background(), NewRequest(`{"q":1}`, ro...))
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			st, err := qm.Status(context.Background(), id)
			require.NoError(t, err)
			assert.Equal(t, tc.want, st.Priority)
			assert.Equal(t, tc.tokens, st.EstimatedTokens, "the estimate, not the class, is what the budget reserves")
		})
	}
}

// gated is a Processor whose calls block until released, so a test can
// hold requests in flight.
type gated struct {
	release chan struct{}
	started atomic.Int64
	mu      sync.Mutex
	order   []Priority
}

func newGated() *gated { return &gated{release: make(chan struct{})} }

func (g *gated) Process(ctx context.Context, job *Job) (*Result, error) {
	g.started.Add(1)
	g.mu.Lock()
	g.order = append(g.order, job.Priority)
	g.mu.Unlock()
	select {
	case <-g.release:
		return &Result{Output: json.RawMessage(`{"ok":true}`)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *gated) classes() []Priority {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Priority(nil), g.order...)
}

func TestPauseProcessing_AcrossProcesses(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		// Three clients stand for three processes: two workers and an
		// operator.
		ops := newManager(t, s, nil)
		w1, w2 := newManager(t, s, nil), newManager(t, s, nil)
		g1, g2 := newGated(), newGated()
		bp1 := startProcessor(t, w1, g1, &WorkerConfig{PollInterval: 50 * time.Millisecond, WorkerID: "w1"})
		bp2 := startProcessor(t, w2, g2, &WorkerConfig{PollInterval: 50 * time.Millisecond, WorkerID: "w2"})

		inFlight, err := ops.Add(ctx, NewRequest(`{"n":0}`, WithEstimatedTokens(10)))
		require.NoError(t, err)
		waitFor(t, 5*time.Second, func() bool { return g1.started.Load()+g2.started.Load() == 1 }, "one request in flight")

		require.NoError(t, ops.PauseProcessing(ctx))
		require.NoError(t, ops.PauseProcessing(ctx), "pausing twice is a no-op")
		st, err := ops.ProcessingState(ctx)
		require.NoError(t, err)
		require.True(t, st.Paused)
		require.NotNil(t, st.PausedAt)

		// Queued while paused: nothing may be leased by either worker.
		addClass(t, ops, 6, 10)
		waitFor(t, 5*time.Second, func() bool {
			return bp1.Status().HealthStatus == HealthPaused && bp2.Status().HealthStatus == HealthPaused
		}, "both workers report paused")
		time.Sleep(300 * time.Millisecond) // several lease calls of each worker
		assert.EqualValues(t, 1, g1.started.Load()+g2.started.Load(), "nothing leased while paused")
		m, err := ops.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 6, m.TotalInQueue)

		// The request in flight finishes while paused.
		close(g1.release)
		close(g2.release)
		done, err := ops.Wait(ctx, inFlight)
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, done.Status)
		assert.True(t, bp1.Status().IsProcessing && bp2.Status().IsProcessing, "workers stay up")

		require.NoError(t, ops.ResumeProcessing(ctx))
		waitFor(t, 5*time.Second, func() bool {
			m, err := ops.Metrics(ctx)
			return err == nil && m.TotalCompleted == 7
		}, "all seven complete after resume")
		st, err = ops.ProcessingState(ctx)
		require.NoError(t, err)
		assert.False(t, st.Paused)
		assert.Nil(t, st.PausedAt)
	})
}

func TestSetCycle_SeenBySecondProcessWithinOneLeaseCall(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		ops := newManager(t, s, nil)
		worker := newManager(t, s, nil)
		// Paused first, so the worker's first lease call is the one
		// after the change.
		require.NoError(t, ops.PauseProcessing(ctx))
		g := newGated()
		t.Cleanup(func() { close(g.release) })
		bp := startProcessor(t, worker, g, &WorkerConfig{Concurrency: 6, PollInterval: 20 * time.Millisecond})
		waitFor(t, 5*time.Second, func() bool { return bp.Status().HealthStatus == HealthPaused }, "worker paused")
		for _, class := range []int64{100, 20_000, 80_000} {
			addClass(t, ops, 8, class)
		}

		require.ErrorIs(t, ops.SetCycle(ctx, Cycle{Low: 1, Medium: 0, Long: 4}), ErrInvalidRequest)
		require.ErrorIs(t, ops.SetCycle(ctx, Cycle{Low: 1, Medium: 1, Long: maxCycleSlots + 1}), ErrInvalidRequest)
		require.NoError(t, ops.SetCycle(ctx, Cycle{Low: 1, Medium: 1, Long: 4}))
		require.NoError(t, ops.ResumeProcessing(ctx))

		// One lease call of six slots: the new cycle, not the worker's 3-2-1.
		waitFor(t, 5*time.Second, func() bool { return g.started.Load() == 6 }, "six leased")
		counts := map[Priority]int{}
		for _, p := range g.classes() {
			counts[p]++
		}
		assert.Equal(t, map[Priority]int{PriorityLow: 1, PriorityMedium: 1, PriorityLong: 4}, counts)
		st := bp.Status()
		assert.Equal(t, map[string]int{"low": 1, "medium": 1, "long": 4, "concurrency": 6}, st.BatchConfig)
		assert.Len(t, st.CycleSequence, 6)
		assert.EqualValues(t, 0, st.RequestsProcessedThisCycle, "six leases in a six-slot cycle close the round")

		ps, err := ops.ProcessingState(ctx)
		require.NoError(t, err)
		require.NotNil(t, ps.Cycle)
		assert.Equal(t, Cycle{Low: 1, Medium: 1, Long: 4}, *ps.Cycle)
		require.NoError(t, ops.ClearCycle(ctx))
		ps, err = ops.ProcessingState(ctx)
		require.NoError(t, err)
		assert.Nil(t, ps.Cycle)
	})
}

func TestClearQueues_LeavesActiveRequestsAlone(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		g := newGated()
		startProcessor(t, qm, g, &WorkerConfig{Concurrency: 2, PollInterval: 20 * time.Millisecond})
		active, err := qm.Add(ctx, NewRequest(`{"a":1}`, WithEstimatedTokens(10)))
		require.NoError(t, err)
		waitFor(t, 5*time.Second, func() bool { return g.started.Load() == 1 }, "one active")
		require.NoError(t, qm.PauseProcessing(ctx))

		// More than one script call's worth of lows (see ClearBatch).
		addClass(t, qm, redisstore.ClearBatch+20, 10)
		addClass(t, qm, 3, 20_000)
		addClass(t, qm, 2, 80_000)
		waiter, err := qm.Add(ctx, NewRequest(`{"w":1}`, WithEstimatedTokens(10)))
		require.NoError(t, err)

		_, err = qm.ClearQueues(ctx, "urgent")
		require.ErrorIs(t, err, ErrInvalidRequest)

		woke := make(chan *RequestStatus, 1)
		go func() {
			st, _ := qm.Wait(ctx, waiter)
			woke <- st
		}()
		rep, err := qm.ClearQueues(ctx, PriorityLow, PriorityLow)
		require.NoError(t, err)
		assert.Equal(t, ClearReport{Removed: map[Priority]int64{PriorityLow: redisstore.ClearBatch + 21},
			Total: redisstore.ClearBatch + 21}, rep)
		select {
		case st := <-woke:
			require.NotNil(t, st)
			assert.Equal(t, StatusCanceled, st.Status)
			assert.Contains(t, st.Error, "cleared")
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter on a cleared request did not wake")
		}

		rep, err = qm.ClearQueues(ctx)
		require.NoError(t, err)
		assert.Equal(t, ClearReport{Removed: map[Priority]int64{PriorityLow: 0, PriorityMedium: 3, PriorityLong: 2},
			Total: 5}, rep)

		st, err := qm.Status(ctx, active)
		require.NoError(t, err)
		assert.Equal(t, StatusActive, st.Status, "the running request is untouched")
		close(g.release)
		st, err = qm.Wait(ctx, active)
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, st.Status)

		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 0, m.TotalInQueue)
		assert.EqualValues(t, 1, m.TotalCompleted)
	})
}

func TestQueueInfo_DescribesConfigQueuesAndRedis(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "info", Budget: Budget{TPM: 1_000_000, APIAllocationPercent: 40}})
		addClass(t, qm, 2, 100)
		addClass(t, qm, 1, 90_000)
		require.NoError(t, qm.SetCycle(ctx, Cycle{Low: 4, Medium: 2, Long: 1}))

		info, err := qm.QueueInfo(ctx)
		require.NoError(t, err)
		assert.Equal(t, "info", info.Namespace)
		assert.EqualValues(t, 1_000_000, info.Budget.TPM)
		assert.EqualValues(t, 360_000, info.Budget.Usable["tpm"], "1M x 40% x (1 - 10%)")
		assert.Equal(t, 40.0, info.Budget.APIAllocationPercent)
		assert.Equal(t, 10.0, info.Budget.SafetyBufferPercent)
		require.NotNil(t, info.Processing.Cycle)
		assert.Equal(t, 4, info.Processing.Cycle.Low)
		require.Len(t, info.Queues, 3)
		assert.Equal(t, QueueDescription{Class: PriorityLow, MinTokens: 0, MaxTokens: defaultLowMaxTokens, Length: 2,
			Description: info.Queues[0].Description}, info.Queues[0])
		assert.EqualValues(t, 0, info.Queues[1].Length)
		assert.EqualValues(t, defaultMediumMaxTokens+1, info.Queues[2].MinTokens)
		assert.EqualValues(t, 1, info.Queues[2].Length)
		assert.Empty(t, info.Redis.Error)
		if s.Backend != redistest.Mini { // miniredis's INFO has its clients section only
			assert.NotEmpty(t, info.Redis.Version)
			assert.Positive(t, info.Redis.UsedMemory)
			assert.Positive(t, info.Redis.ConnectedClients)
		}
	})
}

func TestProcessorStatus_SeedCycleAndQuotaKeys(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	s := redistest.StartMini(t)
	qm := newManager(t, s, &Config{Budget: Budget{TPM: 1_000, SafetyBufferPercent: -1, Window: 3 * time.Second}})
	bp := startProcessor(t, qm, newRecorder(0), &WorkerConfig{PollInterval: 20 * time.Millisecond})
	addClass(t, qm, 3, 400) // two fit the window, the third waits
	waitFor(t, 5*time.Second, func() bool { return bp.Status().ConsecutiveQuotaFailures >= 1 }, "quota refusals counted")
	st := bp.Status()
	assert.Equal(t, HealthQuotaLimited, st.HealthStatus)
	assert.EqualValues(t, 2, st.RequestsProcessedThisCycle)
	waitFor(t, 10*time.Second, func() bool { return bp.Status().Completed == 3 }, "the third runs once the window moves")
	assert.EqualValues(t, 0, bp.Status().ConsecutiveQuotaFailures, "reset by the lease that fit")

	b, err := json.Marshal(bp.Status())
	require.NoError(t, err)
	for _, key := range []string{"requests_processed_this_cycle", "consecutive_quota_failures", "paused"} {
		assert.Contains(t, string(b), `"`+key+`"`)
	}
}

func TestProcessorStats_CountsThisCycleAcrossProcesses(t *testing.T) {
	jobs := func(n int) []redisstore.Leased { return make([]redisstore.Leased, n) }
	steps := []struct {
		name string
		res  redisstore.LeaseResult
		want int64
	}{
		{"first leases", redisstore.LeaseResult{Reason: "ok", Cycle: "3,2,1", StartPos: 0, EndPos: 2, Jobs: jobs(2)}, 2},
		{"more in the same round", redisstore.LeaseResult{Reason: "ok", Cycle: "3,2,1", StartPos: 2, EndPos: 4, Jobs: jobs(2)}, 4},
		{"wrapped in this call", redisstore.LeaseResult{Reason: "ok", Cycle: "3,2,1", StartPos: 4, EndPos: 1, Jobs: jobs(3), Wrapped: true, AfterWrap: 1}, 1},
		{"another process wrapped it", redisstore.LeaseResult{Reason: "ok", Cycle: "3,2,1", StartPos: 0, EndPos: 1, Jobs: jobs(1)}, 1},
		{"budget refused", redisstore.LeaseResult{Reason: "tokens", Cycle: "3,2,1", StartPos: 1, EndPos: 1}, 1},
		{"replayed call says nothing", redisstore.LeaseResult{Reason: "ok", Jobs: jobs(2)}, 1},
	}
	var s processorStats
	for _, st := range steps {
		s.leased(st.res)
		assert.Equal(t, st.want, s.thisCycle.Load(), st.name)
	}
	assert.EqualValues(t, 0, s.quotaFailures.Load(), "the replay leased")
}
