package llmqueue

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func wait(t *testing.T, qm *QueueManager, id string) *RequestStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := qm.Wait(ctx, id)
	require.NoError(t, err)
	return st
}

func fastRetry(int) time.Duration { return 10 * time.Millisecond }

func TestLifecycle_RetriesThenDeadThenRequeue(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		var calls atomic.Int32
		fail := atomic.Bool{}
		fail.Store(true)
		proc := ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
			calls.Add(1)
			if fail.Load() {
				return nil, errors.New("upstream 503")
			}
			return &Result{Output: json.RawMessage(`"fine"`)}, nil
		})
		startProcessor(t, qm, proc, &WorkerConfig{Backoff: fastRetry, PollInterval: 20 * time.Millisecond})
		id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(2)))
		require.NoError(t, err)
		st := wait(t, qm, id)
		assert.Equal(t, StatusDead, st.Status)
		assert.Equal(t, 3, st.Attempts, "one try and two retries")
		assert.EqualValues(t, 3, calls.Load())
		assert.Contains(t, st.Error, "upstream 503")

		fail.Store(false)
		require.NoError(t, qm.Requeue(ctx, id))
		st = wait(t, qm, id)
		assert.Equal(t, StatusCompleted, st.Status)
		assert.Equal(t, 1, st.Attempts)
		assert.ErrorIs(t, qm.Requeue(ctx, id), ErrInvalidState)
	})
}

func TestLifecycle_PermanentErrorDiesAtOnce(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, nil)
	startProcessor(t, qm, ProcessorFunc(func(context.Context, *Job) (*Result, error) {
		return nil, Permanent(errors.New("401 bad key"))
	}), nil)
	id, err := qm.Add(context.Background(), NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(5)))
	require.NoError(t, err)
	st := wait(t, qm, id)
	assert.Equal(t, StatusDead, st.Status)
	assert.Equal(t, 1, st.Attempts)
}

func TestLifecycle_TimeoutIsRetriedThenDead(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, nil)
	var calls atomic.Int32
	startProcessor(t, qm, ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
		calls.Add(1)
		<-ctx.Done() // overruns its timeout
		return nil, ctx.Err()
	}), &WorkerConfig{Backoff: fastRetry})
	id, err := qm.Add(context.Background(), NewRequest(`{}`, WithEstimatedTokens(1),
		WithMaxRetries(1), WithTimeout(100*time.Millisecond)))
	require.NoError(t, err)
	st := wait(t, qm, id)
	assert.Equal(t, StatusDead, st.Status)
	assert.EqualValues(t, 2, calls.Load())
	assert.Contains(t, st.Error, "timed out after 100ms")
}

func TestLifecycle_SuspendResumeComplete(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		proc := ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
			if job.ResumeInput == nil {
				if err := job.SetMeta(ctx, "step", "drafted"); err != nil {
					return nil, err
				}
				return nil, Suspend("awaiting approval", []byte(`{"draft":"v1"}`))
			}
			out, _ := json.Marshal(map[string]any{"input": job.ResumeInput, "state": json.RawMessage(job.State)})
			return &Result{Output: out}, nil
		})
		startProcessor(t, qm, proc, &WorkerConfig{PollInterval: 20 * time.Millisecond})
		id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		waitFor(t, 5*time.Second, func() bool {
			st, err := qm.Status(ctx, id)
			return err == nil && st.Status == StatusSuspended
		}, "suspended")
		st, err := qm.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "awaiting approval", st.SuspendReason)
		assert.JSONEq(t, `"drafted"`, string(st.Meta["step"]))
		ids, err := listIDs(ctx, qm, StatusSuspended, 0, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{id}, ids)

		require.NoError(t, qm.Resume(ctx, id, map[string]any{"approved": true, "by": "alice"}))
		st = wait(t, qm, id)
		assert.Equal(t, StatusCompleted, st.Status)
		assert.JSONEq(t, `{"input":{"approved":true,"by":"alice"},"state":{"draft":"v1"}}`, string(st.Result))
		assert.ErrorIs(t, qm.Resume(ctx, id, "again"), ErrInvalidState)
	})
}

func TestLifecycle_CancelQueuedSuspendedActive(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)

		queued, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		after, err := qm.Cancel(ctx, queued)
		require.NoError(t, err)
		assert.Equal(t, StatusCanceled, after)
		st, err := qm.Status(ctx, queued)
		require.NoError(t, err)
		assert.Equal(t, StatusCanceled, st.Status)
		after, err = qm.Cancel(ctx, queued)
		require.NoError(t, err, "a repeated cancel succeeds")
		assert.Equal(t, StatusCanceled, after)

		started := make(chan string, 4)
		var sawCancel sync.Map
		proc := ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
			var p struct{ Kind string }
			_ = json.Unmarshal(job.Payload, &p)
			if p.Kind == "suspend" {
				return nil, Suspend("wait", nil)
			}
			started <- job.ID
			<-ctx.Done()
			sawCancel.Store(job.ID, true)
			return nil, ctx.Err()
		})
		// A long lease: the cancel must arrive through pub/sub, not the
		// heartbeat.
		startProcessor(t, qm, proc, &WorkerConfig{Lease: 30 * time.Second, PollInterval: 20 * time.Millisecond})

		susp, err := qm.Add(ctx, NewRequest(`{"kind":"suspend"}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		waitFor(t, 5*time.Second, func() bool {
			st, err := qm.Status(ctx, susp)
			return err == nil && st.Status == StatusSuspended
		}, "suspended")
		after, err = qm.Cancel(ctx, susp)
		require.NoError(t, err)
		assert.Equal(t, StatusCanceled, after)
		assert.Equal(t, StatusCanceled, wait(t, qm, susp).Status)

		active, err := qm.Add(ctx, NewRequest(`{"kind":"block"}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		require.Equal(t, active, <-started)
		t0 := time.Now()
		after, err = qm.Cancel(ctx, active)
		require.NoError(t, err)
		assert.Equal(t, StatusActive, after, "an active request is being stopped")
		st = wait(t, qm, active)
		assert.Equal(t, StatusCanceled, st.Status)
		assert.Less(t, time.Since(t0), 2*time.Second)
		_, ok := sawCancel.Load(active)
		assert.True(t, ok, "the processor's context was canceled")
	})
}

func TestLifecycle_RateLimitPausesEveryWorkerWithoutSpendingRetries(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		var hit atomic.Bool
		var mu sync.Mutex
		var starts []time.Time
		proc := ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			if hit.CompareAndSwap(false, true) {
				return nil, RateLimited(700*time.Millisecond, errors.New("429"))
			}
			return &Result{}, nil
		})
		first, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(0)))
		require.NoError(t, err)
		startProcessor(t, newManager(t, s, nil), proc, &WorkerConfig{Concurrency: 1, PollInterval: 10 * time.Millisecond})
		// The processor returns the 429 before its ack records the
		// cool-down: wait for the cool-down itself.
		waitFor(t, 5*time.Second, func() bool {
			m, err := qm.Metrics(ctx)
			return hit.Load() && err == nil && m.CooldownSeconds > 0
		}, "the 429's cool-down")
		// A second process joins: it must honour the cool-down too.
		startProcessor(t, newManager(t, s, nil), proc, &WorkerConfig{Concurrency: 1, PollInterval: 10 * time.Millisecond})
		more := make([]*Request, 4)
		for i := range more {
			more[i] = NewRequest(`{}`, WithEstimatedTokens(1))
		}
		_, err = qm.AddMany(ctx, more)
		require.NoError(t, err)
		st := wait(t, qm, first)
		assert.Equal(t, StatusCompleted, st.Status, "a 429 does not spend the only attempt")
		waitFor(t, 5*time.Second, func() bool {
			m, err := qm.Metrics(ctx)
			return err == nil && m.TotalCompleted == 5
		}, "all five")
		mu.Lock()
		defer mu.Unlock()
		// The cool-down runs 700 ms from the 429's ack, which follows the
		// 429's start: measured from that start, a slow observer (a loaded
		// machine) cannot shorten it.
		for _, at := range starts[1:] {
			assert.GreaterOrEqual(t, at.Sub(starts[0]), 690*time.Millisecond, "no worker started during the cool-down")
		}
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, m.TotalRateLimit)
	})
}

func TestLifecycle_RetentionExpiresFinishedRequests(t *testing.T) {
	s := redistest.StartReal(t)
	ctx := context.Background()
	qm := newManager(t, s, &Config{Retention: 300 * time.Millisecond})
	startProcessor(t, qm, newRecorder(0), nil)
	id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, wait(t, qm, id).Status)
	waitFor(t, 3*time.Second, func() bool {
		_, err := qm.Status(ctx, id)
		return errors.Is(err, ErrNotFound)
	}, "the finished request to expire")
}

func TestLifecycle_ExpiredDeadLettersLeaveTheList(t *testing.T) {
	s := redistest.StartReal(t)
	ctx := context.Background()
	qm := newManager(t, s, &Config{Retention: 300 * time.Millisecond})
	startProcessor(t, qm, ProcessorFunc(func(context.Context, *Job) (*Result, error) {
		return nil, Permanent(errors.New("no"))
	}), nil)
	id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
	require.NoError(t, err)
	assert.Equal(t, StatusDead, wait(t, qm, id).Status)
	dead, err := listIDs(ctx, qm, StatusDead, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{id}, dead)
	waitFor(t, 3*time.Second, func() bool {
		dead, err := listIDs(ctx, qm, StatusDead, 0, 10)
		return err == nil && len(dead) == 0
	}, "the expired dead letter to leave the list")
}

func TestWorkers_RegistryShowsLiveWorkersOnly(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		bp := startProcessor(t, newManager(t, s, nil), newRecorder(0), &WorkerConfig{Lease: 300 * time.Millisecond, WorkerID: "alive"})
		waitFor(t, 3*time.Second, func() bool {
			m, err := qm.Metrics(ctx)
			return err == nil && len(m.Workers) == 1 && m.Workers[0].ID == "alive"
		}, "the worker to register")

		// A worker that died without deregistering: its last heartbeat
		// promised 1.5s of life (long enough for the next read even on a
		// loaded machine, where this test shares the cores).
		k := rawKeys(qm)
		rdb := rawClient(qm)
		deadline := time.Now().Add(1500 * time.Millisecond).UnixMilli()
		require.NoError(t, rdb.ZAdd(ctx, k.Workers, redis.Z{Score: float64(deadline), Member: "ghost"}).Err())
		require.NoError(t, rdb.HSet(ctx, k.WorkerInfo, "ghost", `{"id":"ghost"}`).Err())
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.Len(t, m.Workers, 2)
		waitFor(t, 6*time.Second, func() bool {
			m, err := qm.Metrics(ctx)
			return err == nil && len(m.Workers) == 1 && m.Workers[0].ID == "alive"
		}, "the dead worker to disappear")

		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		require.NoError(t, bp.Shutdown(sctx))
		m, err = qm.Metrics(ctx)
		require.NoError(t, err)
		assert.Empty(t, m.Workers, "a clean shutdown deregisters at once")
	})
}
