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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hooked is a Processor with every hook of processor.go. Each step runs its
// func when one is set (else Preprocess does nothing, Process echoes the
// payload, Postprocess keeps the result) and records its name and the
// payload it saw.
type hooked struct {
	pre      func(ctx context.Context, job *Job) error
	process  func(ctx context.Context, job *Job) (*Result, error)
	post     func(ctx context.Context, job *Job, res *Result) (*Result, error)
	classify func(error) error

	mu    sync.Mutex
	steps []string
	seen  []string
}

func (h *hooked) step(name string, job *Job) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.steps = append(h.steps, name)
	h.seen = append(h.seen, string(job.Payload))
}

func (h *hooked) record() (steps, seen []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.steps...), append([]string(nil), h.seen...)
}

func (h *hooked) Preprocess(ctx context.Context, job *Job) error {
	h.step("pre", job)
	if h.pre == nil {
		return nil
	}
	return h.pre(ctx, job)
}

func (h *hooked) Process(ctx context.Context, job *Job) (*Result, error) {
	h.step("process", job)
	if h.process == nil {
		return &Result{Output: job.Payload}, nil
	}
	return h.process(ctx, job)
}

func (h *hooked) Postprocess(ctx context.Context, job *Job, res *Result) (*Result, error) {
	h.step("post", job)
	if h.post == nil {
		return res, nil
	}
	return h.post(ctx, job, res)
}

func (h *hooked) ClassifyError(err error) error {
	if h.classify == nil {
		return err
	}
	return h.classify(err)
}

// failFirst returns err on the first call and nil after.
func failFirst(err error) func() error {
	var n atomic.Int32
	return func() error {
		if n.Add(1) == 1 {
			return err
		}
		return nil
	}
}

func TestHooks_RunInOrderOnTheAttemptsOwnPayload(t *testing.T) {
	s := redistest.StartMini(t)
	ctx := context.Background()
	qm := newManager(t, s, nil)
	postFails := failFirst(errors.New("answer was not JSON"))
	h := &hooked{
		pre: func(_ context.Context, job *Job) error {
			var p map[string]any
			if err := json.Unmarshal(job.Payload, &p); err != nil {
				return err
			}
			p["system"] = "be brief"
			job.Payload = payload(t, p)
			return nil
		},
		process: func(_ context.Context, job *Job) (*Result, error) {
			return &Result{Output: job.Payload, Usage: Usage{InputTokens: 7, OutputTokens: 3}}, nil
		},
		post: func(_ context.Context, _ *Job, res *Result) (*Result, error) {
			if err := postFails(); err != nil {
				return nil, err
			}
			res.Output = payload(t, map[string]json.RawMessage{"wrapped": res.Output})
			return res, nil
		},
	}
	startProcessor(t, qm, h, &WorkerConfig{Backoff: fastRetry})
	id, err := qm.Add(ctx, NewRequest(`{"prompt":"hi"}`, WithEstimatedTokens(10), WithMaxRetries(1)))
	require.NoError(t, err)
	st := wait(t, qm, id)

	require.Equal(t, StatusCompleted, st.Status, st.Error)
	assert.Equal(t, 2, st.Attempts, "Postprocess's error was retried")
	steps, seen := h.record()
	assert.Equal(t, []string{"pre", "process", "post", "pre", "process", "post"}, steps)
	rewritten := `{"prompt":"hi","system":"be brief"}`
	for i, want := range []string{`{"prompt":"hi"}`, rewritten, rewritten, `{"prompt":"hi"}`, rewritten, rewritten} {
		assert.JSONEq(t, want, seen[i], "payload seen by %s #%d", steps[i], i)
	}
	assert.JSONEq(t, `{"prompt":"hi"}`, string(st.Payload), "the stored payload is unchanged")
	assert.JSONEq(t, `{"wrapped":`+rewritten+`}`, string(st.Result))
	assert.Equal(t, Usage{InputTokens: 7, OutputTokens: 3}, st.Usage, "Postprocess kept Process's usage")
}

var errBadTemplate = errors.New("bad template")

func TestHooks_ErrorsAreProcessErrors(t *testing.T) {
	boom := func() { panic("boom") }
	type want struct {
		status   Status
		attempts int // 0: not checked
		steps    []string
		err      string
		result   string
	}
	cases := []struct {
		name       string
		maxRetries int
		timeout    time.Duration
		h          func() *hooked
		want       want
	}{
		{"preprocess error is retried and Process never runs", 1,
			0, func() *hooked { return &hooked{pre: func(context.Context, *Job) error { return errBadTemplate }} },
			want{status: StatusDead, attempts: 2, steps: []string{"pre", "pre"}, err: "bad template"}},
		{"preprocess Permanent dies at once", 3,
			0, func() *hooked {
				return &hooked{pre: func(context.Context, *Job) error { return Permanent(errBadTemplate) }}
			},
			want{status: StatusDead, attempts: 1, steps: []string{"pre"}, err: "bad template"}},
		{"the ErrorClassifier classifies a preprocess error", 3,
			0, func() *hooked {
				return &hooked{
					pre: func(context.Context, *Job) error { return errBadTemplate },
					classify: func(err error) error {
						if errors.Is(err, errBadTemplate) {
							return Permanent(err)
						}
						return err
					},
				}
			},
			want{status: StatusDead, attempts: 1, steps: []string{"pre"}, err: "bad template"}},
		{"a classifier's nil keeps the failure", 0,
			0, func() *hooked {
				return &hooked{
					pre:      func(context.Context, *Job) error { return errBadTemplate },
					classify: func(error) error { return nil },
				}
			},
			want{status: StatusDead, attempts: 1, steps: []string{"pre"}, err: "bad template"}},
		{"preprocess RateLimited spends no retry", 0,
			0, func() *hooked {
				first := failFirst(RateLimited(10*time.Millisecond, errors.New("429")))
				return &hooked{pre: func(context.Context, *Job) error { return first() }}
			},
			want{status: StatusCompleted, steps: []string{"pre", "pre", "process", "post"}, result: `{}`}},
		{"preprocess Suspend parks the request", 0,
			0, func() *hooked {
				return &hooked{pre: func(context.Context, *Job) error { return Suspend("needs approval", nil) }}
			},
			want{status: StatusSuspended, steps: []string{"pre"}}}, // a suspension spends no attempt
		{"a panic in Preprocess is a failure", 0,
			0, func() *hooked { return &hooked{pre: func(context.Context, *Job) error { boom(); return nil }} },
			want{status: StatusDead, attempts: 1, steps: []string{"pre"}, err: "Preprocess panicked: boom"}},
		{"Process is not called once Preprocess ran past the timeout", 0,
			50 * time.Millisecond, func() *hooked {
				return &hooked{pre: func(ctx context.Context, _ *Job) error { <-ctx.Done(); return nil }}
			},
			want{status: StatusDead, attempts: 1, steps: []string{"pre"}, err: "timed out after 50ms"}},
		{"a Process error skips Postprocess", 0,
			0, func() *hooked {
				return &hooked{process: func(context.Context, *Job) (*Result, error) { return nil, Permanent(errors.New("401")) }}
			},
			want{status: StatusDead, attempts: 1, steps: []string{"pre", "process"}, err: "401"}},
		{"postprocess Permanent dies at once", 3,
			0, func() *hooked {
				return &hooked{post: func(context.Context, *Job, *Result) (*Result, error) {
					return nil, Permanent(errors.New("refusal"))
				}}
			},
			want{status: StatusDead, attempts: 1, steps: []string{"pre", "process", "post"}, err: "refusal"}},
		{"a panic in Postprocess is a failure", 0,
			0, func() *hooked {
				return &hooked{post: func(context.Context, *Job, *Result) (*Result, error) { boom(); return nil, nil }}
			},
			want{status: StatusDead, attempts: 1, steps: []string{"pre", "process", "post"}, err: "Postprocess panicked: boom"}},
		{"Postprocess's result replaces Process's", 0,
			0, func() *hooked {
				return &hooked{post: func(context.Context, *Job, *Result) (*Result, error) {
					return &Result{Output: json.RawMessage(`"short answer"`)}, nil
				}}
			},
			want{status: StatusCompleted, attempts: 1, steps: []string{"pre", "process", "post"}, result: `"short answer"`}},
		{"a nil result from Postprocess keeps Process's", 0,
			0, func() *hooked {
				return &hooked{post: func(context.Context, *Job, *Result) (*Result, error) { return nil, nil }}
			},
			want{status: StatusCompleted, attempts: 1, steps: []string{"pre", "process", "post"}, result: `{}`}},
		{"Postprocess gets an empty Result when Process returned nil", 0,
			0, func() *hooked {
				return &hooked{
					process: func(context.Context, *Job) (*Result, error) { return nil, nil },
					post: func(_ context.Context, _ *Job, res *Result) (*Result, error) {
						res.Output = json.RawMessage(`"filled"`)
						return res, nil
					},
				}
			},
			want{status: StatusCompleted, attempts: 1, steps: []string{"pre", "process", "post"}, result: `"filled"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			qm := newManager(t, redistest.StartMini(t), nil)
			h := tc.h()
			startProcessor(t, qm, h, &WorkerConfig{Backoff: fastRetry, PollInterval: 20 * time.Millisecond})
			opts := []RequestOption{WithEstimatedTokens(1), WithMaxRetries(tc.maxRetries)}
			if tc.timeout > 0 {
				opts = append(opts, WithTimeout(tc.timeout))
			}
			id, err := qm.Add(ctx, NewRequest(`{}`, opts...))
			require.NoError(t, err)
			var st *RequestStatus
			if tc.want.status == StatusSuspended {
				waitFor(t, 5*time.Second, func() bool {
					st, err = qm.Status(ctx, id)
					return err == nil && st.Status == StatusSuspended
				}, "suspended")
			} else {
				st = wait(t, qm, id)
			}
			require.Equal(t, tc.want.status, st.Status, "error: %s", st.Error)
			if tc.want.attempts > 0 {
				assert.Equal(t, tc.want.attempts, st.Attempts)
			}
			steps, _ := h.record()
			assert.Equal(t, tc.want.steps, steps)
			if tc.want.err != "" {
				assert.Contains(t, st.Error, tc.want.err)
			}
			if tc.want.result != "" {
				assert.JSONEq(t, tc.want.result, string(st.Result))
			}
		})
	}
}

// checked is a Processor that implements HealthChecker.
type checked struct {
	ProcessorFunc
	check func(ctx context.Context) error
}

func (c checked) HealthCheck(ctx context.Context) error { return c.check(ctx) }

// described is a Processor that implements ProcessorInfo.
type described struct {
	ProcessorFunc
	info func() map[string]any
}

func (d described) ProcessorInfo() map[string]any { return d.info() }

func nop(context.Context, *Job) (*Result, error) { return &Result{}, nil }

func TestBatchProcessor_HealthCheckCallsTheProcessors(t *testing.T) {
	qm := newManager(t, redistest.StartMini(t), nil)
	errNoKey := errors.New("no API key")
	hung := make(chan struct{})
	t.Cleanup(func() { close(hung) })
	cases := []struct {
		name string
		proc Processor
		want func(t *testing.T, err error)
	}{
		{"no HealthChecker is healthy", ProcessorFunc(nop),
			func(t *testing.T, err error) { assert.NoError(t, err) }},
		{"a passing check", checked{nop, func(context.Context) error { return nil }},
			func(t *testing.T, err error) { assert.NoError(t, err) }},
		{"a failing check", checked{nop, func(context.Context) error { return errNoKey }},
			func(t *testing.T, err error) { assert.ErrorIs(t, err, errNoKey) }},
		{"a panicking check", checked{nop, func(context.Context) error { panic("boom") }},
			func(t *testing.T, err error) { assert.ErrorContains(t, err, "HealthCheck panicked: boom") }},
		{"a check that ignores ctx is cut off", checked{nop, func(context.Context) error { <-hung; return nil }},
			func(t *testing.T, err error) { assert.ErrorIs(t, err, context.DeadlineExceeded) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bp, err := NewBatchProcessor(qm, tc.proc, nil)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			tc.want(t, bp.HealthCheck(ctx))
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

func TestProcessorStatus_ShowsProcessorInfo(t *testing.T) {
	qm := newManager(t, redistest.StartMini(t), nil)
	cases := []struct {
		name string
		proc Processor
		want string // the processor_info JSON; "" when absent
	}{
		{"absent without ProcessorInfo", ProcessorFunc(nop), ""},
		{"the processor's map", described{nop, func() map[string]any {
			return map[string]any{"provider": "fake", "model": "m-1", "max_tokens": 512}
		}}, `{"provider":"fake","model":"m-1","max_tokens":512}`},
		{"a panic is reported, not raised", described{nop, func() map[string]any { panic("boom") }},
			`{"error":"ProcessorInfo panicked: boom"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bp, err := NewBatchProcessor(qm, tc.proc, nil)
			require.NoError(t, err)
			b, err := json.Marshal(bp.Status())
			require.NoError(t, err)
			var st map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &st))
			if tc.want == "" {
				assert.NotContains(t, st, "processor_info")
				return
			}
			assert.JSONEq(t, tc.want, string(st["processor_info"]))
		})
	}
}
