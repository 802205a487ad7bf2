package llmqueue

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdd_BadInputGetsTypedErrors(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, &Config{Budget: Budget{TPM: 100_000}}) // usable 90,000
	cases := []struct {
		name string
		req  *Request
		want error
	}{
		{"negative tokens", NewRequest(`{}`, WithEstimatedTokens(-1)), ErrInvalidTokens},
		{"estimate over the usable limit", NewRequest(`{}`, WithEstimatedTokens(90_001)), ErrOverBudget},
		{"invalid JSON payload", NewRequest(`{"a":`, WithEstimatedTokens(1)), ErrInvalidPayload},
		{"empty payload", NewRequest([]byte{}, WithEstimatedTokens(1)), ErrInvalidPayload},
		{"unmarshalable payload", NewRequest(make(chan int), WithEstimatedTokens(1)), ErrInvalidPayload},
		{"negative retries", NewRequest(`{}`, WithMaxRetries(-2)), ErrInvalidRequest},
		{"negative timeout", NewRequest(`{}`, WithTimeout(-time.Second)), ErrInvalidRequest},
		{"nil request", nil, ErrInvalidRequest},
		{"id with a newline", NewRequest(`{}`, WithID("a\nb")), ErrInvalidRequest},
		{"unmarshalable meta", NewRequest(`{}`, WithMeta(map[string]any{"f": func() {}})), ErrInvalidRequest},
		{"meta key with a tab", NewRequest(`{}`, WithMeta(map[string]any{"a\tb": 1})), ErrInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := qm.Add(context.Background(), tc.req)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
		})
	}
	t.Run("duplicate id", func(t *testing.T) {
		_, err := qm.Add(context.Background(), NewRequest(`{}`, WithID("x")))
		require.NoError(t, err)
		_, err = qm.Add(context.Background(), NewRequest(`{"other":1}`, WithID("x")))
		assert.ErrorIs(t, err, ErrDuplicateID, "a different request under a stored id")
		_, err = qm.AddMany(context.Background(), []*Request{NewRequest(`{}`, WithID("y")), NewRequest(`{}`, WithID("y"))})
		assert.ErrorIs(t, err, ErrDuplicateID)
		_, err = qm.Status(context.Background(), "y")
		assert.ErrorIs(t, err, ErrNotFound, "a refused batch adds nothing")
	})
}

func TestQueueManager_UnknownIDIsNotFound(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, nil)
	ctx := context.Background()
	ops := map[string]func() error{
		"Status":  func() error { _, err := qm.Status(ctx, "nope"); return err },
		"Cancel":  func() error { _, err := qm.Cancel(ctx, "nope"); return err },
		"Resume":  func() error { return qm.Resume(ctx, "nope", "ok") },
		"Requeue": func() error { return qm.Requeue(ctx, "nope") },
	}
	for name, op := range ops {
		assert.ErrorIs(t, op(), ErrNotFound, name)
	}
}

func TestQueueManager_CorruptHashIsTypedAndDoesNotStopWork(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		rdb := rawClient(qm)
		k := rawKeys(qm)
		corrupt := map[string]map[string]any{
			"bad-tokens":  {"status": "queued", "prio": "low", "tokens": "many", "att": "0", "maxr": "1", "payload": "{}"},
			"bad-prio":    {"status": "queued", "prio": "huge", "tokens": "5", "att": "0", "maxr": "1", "payload": "{}"},
			"bad-payload": {"status": "queued", "prio": "low", "tokens": "5", "att": "0", "maxr": "1", "payload": "{nope"},
		}
		for id, h := range corrupt {
			require.NoError(t, rdb.HSet(ctx, k.Request(id), h).Err())
			require.NoError(t, rdb.RPush(ctx, k.Low, id).Err())
		}
		// A compact queued form that is not one (see materialize).
		require.NoError(t, rdb.Set(ctx, k.Queued("bad-packed"), "garbage", 0).Err())
		require.NoError(t, rdb.RPush(ctx, k.Low, "bad-packed").Err())
		_, err := qm.Status(ctx, "bad-packed")
		assert.ErrorIs(t, err, ErrCorrupt)
		require.NoError(t, rdb.HSet(ctx, k.Request("garbage"), "status", "???").Err())
		_, err = qm.Status(ctx, "garbage")
		assert.ErrorIs(t, err, ErrCorrupt)
		_, err = qm.Status(ctx, "bad-tokens")
		assert.ErrorIs(t, err, ErrCorrupt)

		good, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(5)))
		require.NoError(t, err)
		startProcessor(t, newManager(t, s, nil), newRecorder(0), &WorkerConfig{PollInterval: 20 * time.Millisecond})
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := qm.Wait(wctx, good)
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, st.Status)
		for _, id := range append(slices.Collect(maps.Keys(corrupt)), "bad-packed") {
			waitFor(t, 5*time.Second, func() bool {
				status, _ := rdb.HGet(ctx, k.Request(id), "status").Result()
				return status == string(StatusDead)
			}, id+" to die")
		}
		dead, err := listIDs(ctx, qm, StatusDead, 0, 10)
		require.NoError(t, err)
		assert.Len(t, dead, 4)
	})
}

func TestProcessor_PanicIsAFailureNotACrash(t *testing.T) {
	s := redistest.StartMini(t)
	ctx := context.Background()
	qm := newManager(t, s, nil)
	id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(0)))
	require.NoError(t, err)
	startProcessor(t, qm, ProcessorFunc(func(context.Context, *Job) (*Result, error) { panic("boom") }), nil)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := qm.Wait(wctx, id)
	require.NoError(t, err)
	assert.Equal(t, StatusDead, st.Status)
	assert.Contains(t, st.Error, "panicked: boom")
}

func TestNewBatchProcessor_RejectsBadOptions(t *testing.T) {
	qm := newManager(t, redistest.StartMini(t), nil)
	for name, cfg := range map[string]WorkerConfig{
		"negative concurrency": {Concurrency: -1},
		"class without a slot": {Cycle: Cycle{Low: 3, Medium: 0, Long: 1}},
		"tiny lease":           {Lease: time.Millisecond},
		"negative poll":        {PollInterval: -time.Second},
		"negative lease batch": {LeaseBatch: -1},
		"nil middleware":       {Middleware: []Middleware{nil}},
	} {
		_, err := NewBatchProcessor(qm, newRecorder(0), &cfg)
		assert.Error(t, err, name)
	}
	_, err := NewBatchProcessor(nil, newRecorder(0), nil)
	assert.Error(t, err)
	bp, err := NewBatchProcessor(qm, newRecorder(0), nil)
	require.NoError(t, err)
	assert.True(t, errors.Is(bp.Shutdown(context.Background()), ErrClosed))
}

func TestQueueManager_QueuedRequestRefusesResumeAndRequeue(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, nil)
	ctx := context.Background()
	id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
	require.NoError(t, err)
	assert.ErrorIs(t, qm.Resume(ctx, id, "ok"), ErrInvalidState)
	assert.ErrorIs(t, qm.Requeue(ctx, id), ErrInvalidState)
}
