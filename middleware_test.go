package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/lockedbuf"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// traced records what the middleware around it saw, in order.
type traced struct {
	mu    sync.Mutex
	steps []string
}

func (tr *traced) add(s string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.steps = append(tr.steps, s)
}

func (tr *traced) get() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.steps...)
}

// around returns a middleware named name that records entering and
// leaving, and whether next's error was Permanent.
func (tr *traced) around(name string) Middleware {
	return func(next Processor) Processor {
		return ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
			tr.add(name + ">")
			res, err := next.Process(ctx, job)
			var perm *PermanentError
			tr.add(fmt.Sprintf("<%s permanent=%t", name, errors.As(err, &perm)))
			return res, err
		})
	}
}

// fullHooks is hooked plus HealthChecker and ProcessorInfo.
type fullHooks struct{ *hooked }

func (fullHooks) HealthCheck(context.Context) error { return errors.New("inner health") }
func (fullHooks) ProcessorInfo() map[string]any     { return map[string]any{"inner": true} }

func TestMiddleware_FirstIsOutermostAndTheInnerHooksStillRun(t *testing.T) {
	s := redistest.StartMini(t)
	ctx := context.Background()
	qm := newManager(t, s, nil)
	tr := &traced{}
	h := &hooked{
		process: func(_ context.Context, job *Job) (*Result, error) {
			if strings.Contains(string(job.Payload), "bad") {
				return nil, errors.New("400 bad request")
			}
			return &Result{Output: job.Payload}, nil
		},
		classify: func(err error) error { return Permanent(err) },
	}
	bp := startProcessor(t, qm, fullHooks{h},
		&WorkerConfig{Middleware: []Middleware{tr.around("a"), tr.around("b"), tr.around("c")}})

	id, err := qm.Add(ctx, NewRequest(`{"ok":1}`, WithEstimatedTokens(1)))
	require.NoError(t, err)
	st := wait(t, qm, id)
	require.Equal(t, StatusCompleted, st.Status, st.Error)
	assert.JSONEq(t, `{"ok":1}`, string(st.Result))
	steps, _ := h.record()
	assert.Equal(t, []string{"pre", "process", "post"}, steps, "the inner processor's hooks")
	assert.Equal(t, []string{"a>", "b>", "c>", "<c permanent=false", "<b permanent=false", "<a permanent=false"}, tr.get())

	// The middleware sees the error after the inner ErrorClassifier.
	id, err = qm.Add(ctx, NewRequest(`{"bad":1}`, WithEstimatedTokens(1)))
	require.NoError(t, err)
	st = wait(t, qm, id)
	require.Equal(t, StatusDead, st.Status)
	assert.Equal(t, 1, st.Attempts)
	assert.Contains(t, tr.get(), "<a permanent=true")

	// HealthCheck and Status find the inner processor's interfaces.
	assert.ErrorContains(t, bp.HealthCheck(ctx), "inner health")
	assert.Equal(t, map[string]any{"inner": true}, bp.Status().ProcessorInfo)
}

func TestMiddleware_DecidesTheAttempt(t *testing.T) {
	errNope := errors.New("over the per-model limit")
	cases := []struct {
		name       string
		mw         Middleware
		wantStatus Status
		wantErr    string
		wantCalled bool
	}{
		{"a middleware that answers without calling next",
			func(Processor) Processor {
				return ProcessorFunc(func(context.Context, *Job) (*Result, error) { return nil, Permanent(errNope) })
			}, StatusDead, "over the per-model limit", false},
		{"a middleware that panics",
			func(next Processor) Processor {
				return ProcessorFunc(func(context.Context, *Job) (*Result, error) { panic("boom") })
			}, StatusDead, "middleware panicked: boom", false},
		{"a middleware that rewrites the result",
			func(next Processor) Processor {
				return ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
					res, err := next.Process(ctx, job)
					if err == nil {
						res.Output = []byte(`"wrapped"`)
					}
					return res, err
				})
			}, StatusCompleted, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			qm := newManager(t, redistest.StartMini(t), nil)
			h := &hooked{}
			startProcessor(t, qm, h, &WorkerConfig{Middleware: []Middleware{tc.mw}})
			id, err := qm.Add(context.Background(), NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(0)))
			require.NoError(t, err)
			st := wait(t, qm, id)
			assert.Equal(t, tc.wantStatus, st.Status)
			assert.Contains(t, st.Error, tc.wantErr)
			steps, _ := h.record()
			assert.Equal(t, tc.wantCalled, len(steps) > 0, "the processor ran: %v", steps)
		})
	}
}

func TestMiddleware_NilIsRefused(t *testing.T) {
	qm := newManager(t, redistest.StartMini(t), nil)
	cases := []struct {
		name string
		mw   []Middleware
		want string
	}{
		{"a nil middleware", []Middleware{nil}, "middleware 0 is nil"},
		{"a middleware that returns nil", []Middleware{
			func(p Processor) Processor { return p },
			func(Processor) Processor { return nil },
		}, "middleware 1 returned a nil Processor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBatchProcessor(qm, ProcessorFunc(nop), &WorkerConfig{Middleware: tc.mw})
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestAttemptHook_EveryHookRunsInOrderAndAPanicIsLogged(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, nil)
	logs := &lockedbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	tr := &traced{}
	hook := func(name string) func(AttemptEvent) {
		return func(ev AttemptEvent) { tr.add(name + " " + ev.ID + " " + string(ev.Status)) }
	}
	startProcessor(t, qm, ProcessorFunc(nop), &WorkerConfig{Logger: logger, AttemptHooks: []func(AttemptEvent){hook("first"), func(AttemptEvent) { panic("hook bug") }, nil, hook("last")}})

	for _, id := range []string{"r1", "r2", "r3"} {
		_, err := qm.Add(context.Background(), NewRequest(`{}`, WithID(id), WithEstimatedTokens(1)))
		require.NoError(t, err)
		require.Equal(t, StatusCompleted, wait(t, qm, id).Status)
		waitFor(t, 2*time.Second, func() bool {
			steps := tr.get()
			return len(steps) > 0 && steps[len(steps)-1] == "last "+id+" completed"
		}, "the last hook of "+id)
	}
	assert.Equal(t, []string{
		"first r1 completed", "last r1 completed",
		"first r2 completed", "last r2 completed",
		"first r3 completed", "last r3 completed",
	}, tr.get())
	assert.Equal(t, 3, strings.Count(logs.String(), "attempt hook panicked"), logs.String())
	assert.Contains(t, logs.String(), "hook bug")
}
