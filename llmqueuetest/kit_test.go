package llmqueuetest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/llmqueuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echo completes every request with its payload and reports its estimate
// as the usage.
var echo = llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	return &llmqueue.Result{Output: job.Payload, Usage: llmqueue.Usage{InputTokens: job.EstimatedTokens}}, nil
})

// failing fails every request permanently.
var failing = llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	return nil, llmqueue.Permanent(errors.New("bad request"))
})

func TestKit_RunCompletesARequest(t *testing.T) {
	k := llmqueuetest.New(t, echo)
	require.NotNil(t, k.Mini)
	require.NotNil(t, k.Processor)
	assert.True(t, strings.HasPrefix(k.Manager.Namespace(), "llmqueuetest-"), k.Manager.Namespace())

	st := k.Run(llmqueue.NewRequest(map[string]string{"prompt": "hi"}, llmqueue.WithEstimatedTokens(42)))
	assert.Equal(t, llmqueue.StatusCompleted, st.Status)
	assert.JSONEq(t, `{"prompt":"hi"}`, string(st.Result))
	assert.Equal(t, int64(42), st.Usage.InputTokens)
	assert.Equal(t, 1, st.Attempts)
}

func TestKit_WaitReturnsAnyTerminalStatus(t *testing.T) {
	k := llmqueuetest.New(t, failing)
	st := k.Wait(k.Add(llmqueue.NewRequest(`{}`)))
	assert.Equal(t, llmqueue.StatusDead, st.Status)
	assert.Contains(t, st.Error, "bad request")
}

func TestKit_WaitStatusSeesSuspendAndResume(t *testing.T) {
	proc := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		if job.ResumeInput == nil {
			return nil, llmqueue.Suspend("needs approval", []byte(`{"step":1}`))
		}
		return &llmqueue.Result{Output: job.ResumeInput}, nil
	})
	k := llmqueuetest.New(t, proc)
	id := k.Add(llmqueue.NewRequest(`{"draft":"x"}`))
	st := k.WaitStatus(id, llmqueue.StatusSuspended)
	assert.Equal(t, "needs approval", st.SuspendReason)

	require.NoError(t, k.Manager.Resume(context.Background(), id, map[string]bool{"approved": true}))
	st = k.WaitStatus(id, llmqueue.StatusCompleted)
	assert.JSONEq(t, `{"approved":true}`, string(st.Result))
}

func TestKit_OptionsReachTheManagerAndTheProcessor(t *testing.T) {
	var calls atomic.Int32
	flaky := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("transient")
		}
		return &llmqueue.Result{}, nil
	})
	k := llmqueuetest.New(t, flaky,
		llmqueuetest.WithManagerConfig(llmqueue.Config{Namespace: "mine"}),
		llmqueuetest.WithWorkerConfig(llmqueue.WorkerConfig{Backoff: func(int) time.Duration { return time.Millisecond }}))
	assert.Equal(t, "mine", k.Manager.Namespace())
	st := k.Run(llmqueue.NewRequest(`{}`))
	assert.Equal(t, 2, st.Attempts, "the fast backoff retried at once")
}

func TestKit_NilProcessorThenStartProcessor(t *testing.T) {
	k := llmqueuetest.New(t, nil)
	require.Nil(t, k.Processor)
	id := k.Add(llmqueue.NewRequest(`{}`))
	st, err := k.Manager.Status(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, llmqueue.StatusQueued, st.Status, "nothing runs without a processor")

	var hooked atomic.Int32
	k.StartProcessor(echo, &llmqueue.WorkerConfig{AttemptHooks: []func(llmqueue.AttemptEvent){func(llmqueue.AttemptEvent) { hooked.Add(1) }}})
	k.WaitStatus(id, llmqueue.StatusCompleted)
	require.Eventually(t, func() bool { return hooked.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
}

func TestKit_WithClientUsesThatRedis(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	a := llmqueuetest.New(t, echo, llmqueuetest.WithClient(rdb))
	b := llmqueuetest.New(t, echo, llmqueuetest.WithClient(rdb))
	require.Nil(t, a.Mini)
	require.Same(t, rdb, a.Client)
	assert.NotEqual(t, a.Manager.Namespace(), b.Manager.Namespace(), "each Kit gets a namespace of its own")
	a.Run(llmqueue.NewRequest(`{}`))
	b.Run(llmqueue.NewRequest(`{}`))
	require.NoError(t, rdb.Ping(context.Background()).Err(), "the Kit does not close a client it was given")
}

// fatalTB records Fatalf instead of failing the test, and ends the
// goroutine as testing does.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// fatal runs fn with a fatalTB around t and returns what it failed with.
func fatal(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); fn(f) }()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestKit_FailuresNameWhatHappened(t *testing.T) {
	var id string
	msg := fatal(t, func(tb testing.TB) {
		k := llmqueuetest.New(tb, failing)
		id = k.Add(llmqueue.NewRequest(`{}`, llmqueue.WithMaxRetries(0)))
		k.WaitStatus(id, llmqueue.StatusCompleted)
	})
	assert.Equal(t, `llmqueuetest: request `+id+` ended dead (1 attempt of at most 1, error "permanent: bad request"), want completed`, msg)

	msg = fatal(t, func(tb testing.TB) {
		k := llmqueuetest.New(tb, nil, llmqueuetest.WithWaitTimeout(50*time.Millisecond))
		id = k.Add(llmqueue.NewRequest(`{}`))
		k.Wait(id)
	})
	assert.Equal(t, `llmqueuetest: request `+id+` is not done after 50ms: it is queued (0 attempts of at most 4)`, msg)

	msg = fatal(t, func(tb testing.TB) {
		llmqueuetest.New(tb, nil, llmqueuetest.WithManagerConfig(llmqueue.Config{Namespace: "{bad}"}))
	})
	assert.Contains(t, msg, "llmqueuetest: new queue manager: ")
}

func TestKit_StopsEverythingAtCleanup(t *testing.T) {
	var k *llmqueuetest.Kit
	t.Run("inner", func(t *testing.T) {
		k = llmqueuetest.New(t, echo)
		k.Run(llmqueue.NewRequest(`{}`))
	})
	assert.Error(t, k.Client.Ping(context.Background()).Err(), "the client is closed")
	assert.ErrorIs(t, k.Processor.Shutdown(context.Background()), llmqueue.ErrClosed, "the processor is shut down")
}
