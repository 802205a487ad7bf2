package llmqueuetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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

// hooked is a Processor with every hook: Preprocess upper-cases the
// prompt, Postprocess wraps the answer, ClassifyError turns "quota"
// errors into rate limits and "invalid" ones into permanent failures.
type hooked struct{ calls atomic.Int32 }

type prompt struct {
	Prompt string `json:"prompt"`
}

func (h *hooked) Preprocess(ctx context.Context, job *llmqueue.Job) error {
	var p prompt
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return err
	}
	p.Prompt = strings.ToUpper(p.Prompt)
	job.Payload, _ = json.Marshal(p)
	return nil
}

func (h *hooked) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	h.calls.Add(1)
	var p prompt
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return nil, err
	}
	switch p.Prompt {
	case "QUOTA", "INVALID", "FLAKY":
		return nil, errors.New(strings.ToLower(p.Prompt))
	case "PANIC":
		panic("boom")
	case "SLOW":
		<-ctx.Done()
		return nil, ctx.Err()
	case "APPROVE":
		return nil, llmqueue.Suspend("approve?", nil)
	}
	return &llmqueue.Result{Output: job.Payload, Usage: llmqueue.Usage{InputTokens: 7, OutputTokens: 3}}, nil
}

func (h *hooked) Postprocess(ctx context.Context, job *llmqueue.Job, res *llmqueue.Result) (*llmqueue.Result, error) {
	res.Output = json.RawMessage(`{"answer":` + string(res.Output) + `}`)
	return res, nil
}

func (h *hooked) ClassifyError(err error) error {
	switch err.Error() {
	case "quota":
		return llmqueue.RateLimited(time.Minute, err)
	case "invalid":
		return llmqueue.Permanent(err)
	}
	return nil
}

func processOnce(t *testing.T, proc llmqueue.Processor, prompt string, opts ...llmqueue.RequestOption) *llmqueuetest.Attempt {
	t.Helper()
	a, err := llmqueuetest.ProcessOnce(context.Background(), proc, llmqueue.NewRequest(map[string]string{"prompt": prompt}, opts...))
	require.NoError(t, err)
	return a
}

func TestProcessOnce_RunsTheHooksAsTheBatchProcessorDoes(t *testing.T) {
	h := &hooked{}
	a := processOnce(t, h, "hello")
	require.NoError(t, a.Err)
	assert.JSONEq(t, `{"answer":{"prompt":"HELLO"}}`, string(a.Result.Output))
	assert.Equal(t, llmqueue.Usage{InputTokens: 7, OutputTokens: 3}, a.Result.Usage)
	assert.Equal(t, llmqueue.StatusCompleted, a.Request.Status)
	assert.JSONEq(t, `{"prompt":"hello"}`, string(a.Request.Payload), "Preprocess rewrites this attempt's copy only")
}

func TestProcessOnce_ReportsTheClassifiedErrorAndWhatTheQueueDid(t *testing.T) {
	for _, tc := range []struct {
		prompt string
		as     func(error) bool
		status llmqueue.Status
		msg    string
	}{
		{"invalid", isA[*llmqueue.PermanentError], llmqueue.StatusDead, "permanent: invalid"},
		{"quota", isA[*llmqueue.RateLimitedError], llmqueue.StatusQueued, "rate limited (retry after 1m0s): quota"},
		{"flaky", func(err error) bool { return err != nil && err.Error() == "flaky" }, llmqueue.StatusRetrying, "flaky"},
		{"panic", func(err error) bool { return err != nil }, llmqueue.StatusRetrying, "llmqueue: processor panicked: boom"},
		{"approve", isA[*llmqueue.SuspendError], llmqueue.StatusSuspended, "suspended: approve?"},
	} {
		t.Run(tc.prompt, func(t *testing.T) {
			h := &hooked{}
			a := processOnce(t, h, tc.prompt)
			assert.Nil(t, a.Result)
			assert.True(t, tc.as(a.Err), "%T %v", a.Err, a.Err)
			assert.Equal(t, tc.msg, a.Err.Error())
			assert.Equal(t, tc.status, a.Request.Status, "error %q", a.Request.Error)
			assert.Equal(t, int32(1), h.calls.Load(), "one attempt")
		})
	}
}

func isA[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func TestProcessOnce_TimesOutAsTheRequestSays(t *testing.T) {
	a := processOnce(t, &hooked{}, "slow", llmqueue.WithTimeout(50*time.Millisecond), llmqueue.WithMaxRetries(0))
	require.ErrorIs(t, a.Err, context.DeadlineExceeded)
	assert.Contains(t, a.Err.Error(), "attempt timed out after 50ms")
	assert.Equal(t, llmqueue.StatusDead, a.Request.Status)
}

func TestProcessOnce_RunsOnceEvenWhenARetryIsDueAtOnce(t *testing.T) {
	h := &hooked{}
	a, err := llmqueuetest.ProcessOnce(context.Background(), h, llmqueue.NewRequest(`{"prompt":"flaky"}`),
		llmqueuetest.WithWorkerConfig(llmqueue.WorkerConfig{Backoff: func(int) time.Duration { return 0 }}))
	require.NoError(t, err)
	assert.Equal(t, "flaky", a.Err.Error())
	assert.Contains(t, []llmqueue.Status{llmqueue.StatusRetrying, llmqueue.StatusQueued}, a.Request.Status)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int32(1), h.calls.Load())
}

func TestProcessOnce_UsesTheManagerConfig(t *testing.T) {
	var reserved llmqueue.Charge
	proc := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		reserved = job.Reserved
		return nil, nil
	})
	a, err := llmqueuetest.ProcessOnce(context.Background(), proc, llmqueue.NewRequest(`{"messages":[],"max_tokens":100}`),
		llmqueuetest.WithManagerConfig(llmqueue.Config{Estimator: llmqueue.HeuristicEstimator{}}))
	require.NoError(t, err)
	require.NoError(t, a.Err)
	assert.Equal(t, int64(100), reserved.OutputTokens, "the estimator's output allowance is reserved")
	assert.Empty(t, a.Result.Output)

	refuse := llmqueue.ProcessorFunc(func(context.Context, *llmqueue.Job) (*llmqueue.Result, error) { return nil, nil })
	_, err = llmqueuetest.ProcessOnce(context.Background(), refuse, llmqueue.NewRequest(`{}`),
		llmqueuetest.WithManagerConfig(llmqueue.Config{Validator: validatorFunc(func(json.RawMessage) error { return errors.New("no") })}))
	require.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
}

type validatorFunc func(json.RawMessage) error

func (f validatorFunc) Validate(p json.RawMessage) error { return f(p) }

func TestProcessOnce_RefusesWhatItCannotDo(t *testing.T) {
	ctx := context.Background()
	_, err := llmqueuetest.ProcessOnce(ctx, nil, llmqueue.NewRequest(`{}`))
	require.Error(t, err)
	_, err = llmqueuetest.ProcessOnce(ctx, echo, nil)
	require.Error(t, err)

	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	_, err = llmqueuetest.ProcessOnce(ctx, echo, llmqueue.NewRequest(`{}`), llmqueuetest.WithClient(rdb))
	require.ErrorContains(t, err, "WithClient does not apply")

	stuck := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	start := time.Now()
	_, err = llmqueuetest.ProcessOnce(ctx, stuck, llmqueue.NewRequest(`{}`), llmqueuetest.WithWaitTimeout(100*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second, "shutdown cancels the stuck attempt")
}
