package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue/internal/lockedbuf"
	"github.com/llmqueue/llmqueue/internal/redisstore"
	"github.com/llmqueue/llmqueue/internal/redistest"
)

// slogTo returns a logger writing text lines to w at every level.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// errReplyLost stands for a reply that never reached the client: the
// server ran the command, the connection broke on the way back.
var errReplyLost = errors.New("test: reply lost on the way back")

// dropLeaseReply is a go-redis hook that lets the server run the first
// lease call that leases something, then reports its reply lost.
type dropLeaseReply struct{ left atomic.Int32 }

func (h *dropLeaseReply) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *dropLeaseReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *dropLeaseReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil || !isLeaseCall(cmd) {
			return err
		}
		c, ok := cmd.(*redis.Cmd)
		if !ok {
			return err
		}
		reply, _ := c.Val().([]any)
		if len(reply) == 0 || reply[0] == int64(0) || h.left.Add(-1) < 0 {
			return err
		}
		cmd.SetErr(errReplyLost)
		return errReplyLost
	}
}

// isLeaseCall reports whether cmd runs the lease script: the only script
// given the cycle key.
func isLeaseCall(cmd redis.Cmder) bool {
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && strings.HasSuffix(s, "}:cycle") {
			return true
		}
	}
	return false
}

// Issue 9, item 3: a retry after a lost lease reply must be answered with
// the leases the lost call made. Before, the call id advanced on every try,
// the replay never matched, and with no retries left the request died
// "lease expired; retries spent" without ever running.
func TestLease_LostReplyIsReplayed(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		client := s.Client(t)
		hook := &dropLeaseReply{}
		hook.left.Store(1)
		client.AddHook(hook)
		qm, err := NewQueueManager(client, &Config{Namespace: "lost-reply"})
		require.NoError(t, err)
		id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(0)))
		require.NoError(t, err)
		rec := newRecorder(0)
		startProcessor(t, qm, rec, &WorkerConfig{Lease: time.Second})

		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := qm.Wait(wctx, id)
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, st.Status, st.Error)
		assert.Equal(t, 1, st.Attempts)
		assert.Equal(t, 1, rec.count(), "ran once")
		assert.LessOrEqual(t, hook.left.Load(), int32(0), "a reply was dropped")
	})
}

// Issue 9, item 4: lease tokens must not repeat when the lease counter is
// set back (an INCR lost to an AOF everysec restart or an async failover),
// or a stale worker's ack could end another worker's live run.
func TestLease_TokensDoNotRepeatWhenTheCounterIsLost(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "tokens"})
		args := redisstore.LeaseArgs{Max: 1, Lease: time.Minute, Window: time.Minute, Cycle: [3]int{3, 2, 1}, WorkerID: "w"}
		var tokens []string
		for range 2 {
			_, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
			require.NoError(t, err)
			// The counter as it was before any lease: the write was lost.
			require.NoError(t, s.Client(t).Set(ctx, rawKeys(qm).LeaseSeq, 0, 0).Err())
			res, err := qm.store.Lease(ctx, args)
			require.NoError(t, err)
			require.Len(t, res.Jobs, 1)
			tokens = append(tokens, res.Jobs[0].Lease)
		}
		assert.NotEqual(t, tokens[0], tokens[1])
	})
}

// Issue 9, item 5: a second live worker with the same id is refused; it
// would share the first one's idempotency key and run everything twice.
func TestBatchProcessor_SecondLiveWorkerWithTheSameIDIsRefused(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		qm := newManager(t, s, &Config{Namespace: "same-id"})
		startProcessor(t, qm, newRecorder(0), &WorkerConfig{WorkerID: "w1", Lease: 300 * time.Millisecond})

		twin, err := NewBatchProcessor(newManager(t, s, &Config{Namespace: "same-id"}), newRecorder(0),
			&WorkerConfig{WorkerID: "w1", Lease: 300 * time.Millisecond})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = twin.Start(ctx)
		require.ErrorIs(t, err, ErrWorkerIDInUse)
		assert.Contains(t, err.Error(), "w1")
	})
}

// Issue 9, item 5: a worker restarted under its old id waits for the dead
// process's registration to expire instead of being refused.
func TestBatchProcessor_RestartUnderTheSameIDWaitsForTheOldRegistration(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "restart-id"})
		k := rawKeys(qm)
		// What a process killed a moment ago leaves behind.
		deadline := time.Now().Add(400 * time.Millisecond).UnixMilli()
		require.NoError(t, s.Client(t).ZAdd(ctx, k.Workers, redis.Z{Score: float64(deadline), Member: "w1"}).Err())
		require.NoError(t, s.Client(t).HSet(ctx, k.WorkerInst, "w1", "killed-process").Err())

		bp, err := NewBatchProcessor(qm, newRecorder(0), &WorkerConfig{WorkerID: "w1", Lease: 300 * time.Millisecond})
		require.NoError(t, err)
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		require.NoError(t, bp.Start(sctx))
		t.Cleanup(func() { _ = bp.Shutdown(context.Background()) })
		id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		st, err := qm.Wait(sctx, id)
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, st.Status)
	})
}

// hungOnce ignores its context on its first call, as a processor stuck in
// a call without a deadline does, and succeeds afterwards.
type hungOnce struct {
	calls   atomic.Int32
	release chan struct{}
}

func (h *hungOnce) Process(ctx context.Context, job *Job) (*Result, error) {
	if h.calls.Add(1) == 1 {
		<-h.release
	}
	return &Result{Output: []byte(`{"ok":true}`)}, nil
}

// Issue 9, item 6: a processor that ignores its context must not hold its
// lease forever: the heartbeat stops extending a job at timeout + grace,
// the lease expires and another worker runs the request.
func TestBatchProcessor_HungProcessorLosesItsLease(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		logs := &lockedbuf.Buffer{}
		qm := newManager(t, s, &Config{Namespace: "hung", Logger: slogTo(logs)})
		hung := &hungOnce{release: make(chan struct{})}
		t.Cleanup(func() { close(hung.release) })
		startProcessor(t, qm, hung, &WorkerConfig{Lease: 600 * time.Millisecond, Concurrency: 1})
		id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(1),
			WithTimeout(200*time.Millisecond)))
		require.NoError(t, err)
		waitFor(t, 5*time.Second, func() bool { return hung.calls.Load() == 1 }, "the hung processor took the request")

		rec := newRecorder(0)
		startProcessor(t, newManager(t, s, &Config{Namespace: "hung"}), rec, nil)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := qm.Wait(wctx, id)
		require.NoError(t, err, "still %s", func() Status { st, _ := qm.Status(ctx, id); return st.Status }())
		assert.Equal(t, StatusCompleted, st.Status)
		assert.Equal(t, 1, rec.count(), "the second worker ran it")
		assert.Contains(t, logs.String(), "ignored its context")
	})
}

// Issue 9, item 1: a script error is a bug or bad data, not an outage,
// and the log says so.
func TestOutage_ScriptErrorIsLoggedAsABug(t *testing.T) {
	s := redistest.StartMini(t)
	err := s.Client(t).Eval(context.Background(), "return redis.error_reply('BADARG lease: limit')", nil).Err()
	require.Error(t, err)
	logs := &lockedbuf.Buffer{}
	o := newOutageTracker(slogTo(logs), "lease")
	o.failed(err)
	assert.Contains(t, logs.String(), "not an outage")
	assert.NotContains(t, logs.String(), "redis unavailable")

	logs = &lockedbuf.Buffer{}
	o = newOutageTracker(slogTo(logs), "lease")
	o.failed(errors.New("dial tcp 127.0.0.1:1: connect: connection refused"))
	assert.Contains(t, logs.String(), "redis unavailable")
}

// Issue 9, item 1: a request whose fields the lease script cannot use is
// dead-lettered in the same call, never left "queued" in no queue; the
// requests leased before it in that call run.
func TestLease_CorruptFieldsAreDeadLetteredNotStranded(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, field, value string }{
		{"fractional tokens", "tokens", "1.5"},
		{"tokens past MaxTokens", "tokens", "100000000000000000"},
		{"attempts not a number", "att", "x"},
		{"negative input charge", "cin", "-1"},
		{"unknown class", "prio", "huge"},
	}
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "corrupt-fields"})
		rdb := rawClient(qm)
		k := rawKeys(qm)
		var good []string
		for _, tc := range cases {
			id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(5)))
			require.NoError(t, err)
			good = append(good, id)
			h := map[string]any{"status": "queued", "prio": "low", "tokens": "5", "att": "0", "maxr": "1", "payload": "{}"}
			h[tc.field] = tc.value
			require.NoError(t, rdb.HSet(ctx, k.Request(tc.name), h).Err())
			require.NoError(t, rdb.RPush(ctx, k.Low, tc.name).Err())
		}
		startProcessor(t, qm, newRecorder(0), &WorkerConfig{PollInterval: 20 * time.Millisecond})
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for _, id := range good {
			st, err := qm.Wait(wctx, id)
			require.NoError(t, err)
			assert.Equal(t, StatusCompleted, st.Status)
		}
		for _, tc := range cases {
			waitFor(t, 5*time.Second, func() bool {
				f, _ := rdb.HMGet(ctx, k.Request(tc.name), "status", "err").Result()
				return f[0] == string(StatusDead) && strings.Contains(fmt.Sprint(f[1]), "corrupt") ||
					f[0] == string(StatusDead) && tc.field == "tokens" && strings.Contains(fmt.Sprint(f[1]), "limit")
			}, tc.name+" dead-lettered")
		}
		depth, err := rdb.LLen(ctx, k.Low).Result()
		require.NoError(t, err)
		assert.Zero(t, depth)
	})
}

// hugeUsage reports usage far past MaxTokens, as a buggy provider or
// adapter might.
type hugeUsage struct{}

func (hugeUsage) Process(context.Context, *Job) (*Result, error) {
	return &Result{Output: []byte(`{}`), Usage: Usage{InputTokens: 1e17, OutputTokens: 1e17}}, nil
}

// Issue 9, item 1: usage past the documented range is capped before the
// ack, which completes instead of failing after its first write.
func TestAck_HugeUsageIsCappedAndCompletes(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Namespace: "huge-usage", Budget: Budget{TPM: 1_000_000, SafetyBufferPercent: -1}})
		startProcessor(t, qm, hugeUsage{}, nil)
		id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(5)))
		require.NoError(t, err)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := qm.Wait(wctx, id)
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, st.Status)
		assert.LessOrEqual(t, st.Usage.InputTokens, int64(MaxTokens))
	})
}
