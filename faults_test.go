package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faultLog is a slog.Handler that keeps every record, so tests can count
// what a processor logged.
type faultLog struct {
	mu      sync.Mutex
	records []faultRecord
}

type faultRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (l *faultLog) logger() *slog.Logger { return slog.New(l) }

func (l *faultLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *faultLog) Handle(_ context.Context, r slog.Record) error {
	rec := faultRecord{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, rec)
	l.mu.Unlock()
	return nil
}

func (l *faultLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *faultLog) WithGroup(string) slog.Handler      { return l }

// count returns how many records contain msg and have op=op ("" for any).
func (l *faultLog) count(msg, op string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if strings.Contains(r.Msg, msg) && (op == "" || r.Attrs["op"] == op) {
			n++
		}
	}
	return n
}

func (l *faultLog) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.records {
		fmt.Fprintf(&b, "%s %s %v\n", r.Level, r.Msg, r.Attrs)
	}
	return b.String()
}

// commandCounter is a go-redis hook that counts the commands a client
// sends (script calls included) and the dials it makes, to see whether a
// worker spins.
type commandCounter struct{ n, dials atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.dials.Add(1)
		return next(ctx, network, addr)
	}
}

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// cpuTime is the CPU (user + system) this process has used so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// completedCount reads Metrics.TotalCompleted, or -1 while Redis is away.
func completedCount(qm *QueueManager) int64 {
	m, err := qm.Metrics(context.Background())
	if err != nil {
		return -1
	}
	return m.TotalCompleted
}

func TestFault_RestartWithAOFLosesNothing(t *testing.T) {
	const n = 300
	ctx := context.Background()
	s := redistest.StartReal(t, "--appendonly", "yes", "--appendfsync", "always")
	qm := newManager(t, s, &Config{OpTimeout: 2 * time.Second})

	reqs := make([]*Request, n)
	for i := range reqs {
		reqs[i] = NewRequest(payload(t, map[string]int{"i": i}), WithEstimatedTokens(10))
	}
	ids, err := qm.AddMany(ctx, reqs)
	require.NoError(t, err)

	rec := newRecorder(5 * time.Millisecond)
	logs := &faultLog{}
	for range 2 {
		// A lease shorter than the default bounds the wait should a lease
		// reply be lost in the restart; heartbeats keep live ones.
		startProcessor(t, newManager(t, s, &Config{Logger: logs.logger()}), rec,
			&WorkerConfig{Concurrency: 2, PollInterval: 20 * time.Millisecond, Lease: 3 * time.Second})
	}

	done := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.done)
	}
	for _, r := range []struct {
		at      int
		restart func(*testing.T, *redistest.Server)
		how     string
	}{
		{n / 5, func(t *testing.T, s *redistest.Server) { s.Restart(t) }, "SIGTERM"},
		{n / 2, func(t *testing.T, s *redistest.Server) { s.Crash(t) }, "SIGKILL"},
	} {
		waitFor(t, 30*time.Second, func() bool { return done() >= r.at }, fmt.Sprintf("%d requests processed", r.at))
		before := done()
		r.restart(t, s)
		t.Logf("restarted Redis (%s) with %d of %d processed", r.how, before, n)
		require.Less(t, before, n, "the restart must come while work remains")
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		require.EqualValues(t, n, m.TotalQueued, "the adds survived the restart")
	}

	waitFor(t, 60*time.Second, func() bool { return completedCount(qm) == n },
		"every request completed after the restarts")
	m, err := qm.Metrics(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, n, m.TotalCompleted)
	assert.EqualValues(t, n, m.TotalQueued, "the adds survived the restarts")
	assert.Zero(t, m.TotalInQueue+m.TotalProcessing+m.Scheduled+m.Dead)

	again := 0
	for _, id := range ids {
		st, err := qm.Status(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, StatusCompleted, st.Status, id)
		if st.Attempts > 1 {
			again++
		}
	}
	rec.mu.Lock()
	assert.Len(t, rec.done, n, "the processor saw every request")
	runs := 0
	for _, c := range rec.done {
		runs += c
	}
	rec.mu.Unlock()
	t.Logf("%d runs for %d requests; %d requests needed a second attempt", runs, n, again)
	t.Logf("processor logs:\n%s", logs.dump())
}

// isConnError reports whether err is what a client gets from a Redis that
// is not there: a refused dial, a broken connection (*net.OpError), or the
// operation's deadline.
func isConnError(err error) bool {
	var opErr *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &opErr)
}

func TestFault_AddFailsFastWhileRedisIsDown(t *testing.T) {
	ctx := context.Background()
	s := redistest.StartReal(t)
	qm := newManager(t, s, &Config{OpTimeout: 300 * time.Millisecond})
	// A warm pool: the first Add after the stop meets a dead connection,
	// later ones a refused dial.
	_, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
	require.NoError(t, err)

	s.Stop(t)
	for i := range 3 {
		start := time.Now()
		id, err := qm.Add(ctx, NewRequest(`{"q":1}`, WithEstimatedTokens(1)))
		took := time.Since(start)
		require.Error(t, err)
		assert.Empty(t, id)
		t.Logf("Add %d while down: %s after %s (%T; ECONNREFUSED=%v, DeadlineExceeded=%v)", i, err, took,
			errors.Unwrap(err), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, context.DeadlineExceeded))
		assert.Less(t, took, time.Second, "Add must fail fast")
		assert.True(t, strings.HasPrefix(err.Error(), "llmqueue: add: "), err.Error())
		assert.True(t, isConnError(err), "want a connection error or deadline, got %T: %v", err, err)
		assert.ErrorIs(t, err, ErrUnavailable)
	}
}

// addN queues n small requests and returns their IDs.
func addN(t *testing.T, qm *QueueManager, n int) []string {
	t.Helper()
	reqs := make([]*Request, n)
	for i := range reqs {
		reqs[i] = NewRequest(payload(t, map[string]int{"i": i}), WithEstimatedTokens(10))
	}
	ids, err := qm.AddMany(context.Background(), reqs)
	require.NoError(t, err)
	return ids
}

func TestFault_WorkersBackOffLogOnceAndResume(t *testing.T) {
	const outage = 2 * time.Second
	ctx := context.Background()
	s := redistest.StartReal(t, "--appendonly", "yes", "--appendfsync", "always")
	qm := newManager(t, s, nil)
	before := addN(t, qm, 20)
	s.Stop(t)

	// The processor starts while Redis is down.
	logs := &faultLog{}
	cmds := &commandCounter{}
	// go-redis's own retries (3 per command, 5 dials each, with sleeps)
	// would hide a worker that does not back off; with them off every
	// failure comes back at once and only the worker's backoff paces it.
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(cmds)
	wqm, err := NewQueueManager(rdb, &Config{Logger: logs.logger(), OpTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	rec := newRecorder(0)
	startProcessor(t, wqm, rec, &WorkerConfig{Concurrency: 4, PollInterval: 20 * time.Millisecond})

	cpu0, n0, d0 := cpuTime(t), cmds.n.Load(), cmds.dials.Load()
	time.Sleep(outage)
	cpu, sent, dials := cpuTime(t)-cpu0, cmds.n.Load()-n0, cmds.dials.Load()-d0
	t.Logf("during a %s outage: %s CPU, %d commands tried, %d dials", outage, cpu, sent, dials)
	assert.Less(t, cpu, 300*time.Millisecond, "a worker must not spin while Redis is down")
	assert.Less(t, sent, int64(40), "a worker must back off while Redis is down")
	assert.Less(t, dials, int64(100), "a worker must back off while Redis is down")
	assert.Equal(t, 1, logs.count("redis unavailable", "lease"), "outage logged once by the lease loop:\n%s", logs.dump())
	assert.LessOrEqual(t, logs.count("redis unavailable", ""), 2, "at most once per loop (lease, heartbeat):\n%s", logs.dump())
	assert.Zero(t, rec.count(), "nothing ran without Redis")

	s.Start(t)
	waitFor(t, 15*time.Second, func() bool { return completedCount(qm) == int64(len(before)) },
		"requests queued before the outage completed after Redis came back")
	for _, id := range before {
		st, err := qm.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, st.Status, id)
	}
	assert.Equal(t, 1, logs.count("redis reachable again", "lease"), logs.dump())

	// A second outage is logged once more, and work resumes again.
	s.Stop(t)
	waitFor(t, 5*time.Second, func() bool { return logs.count("redis unavailable", "lease") == 2 },
		"second outage logged")
	time.Sleep(outage / 2)
	assert.Equal(t, 2, logs.count("redis unavailable", "lease"), "once per outage:\n%s", logs.dump())
	s.Start(t)
	after := addN(t, qm, 5)
	waitFor(t, 15*time.Second, func() bool { return completedCount(qm) == int64(len(before)+len(after)) },
		"requests added after the second outage completed")
	assert.Equal(t, 2, logs.count("redis reachable again", "lease"), logs.dump())
	assert.Equal(t, 2, logs.count("redis unavailable", "lease"), logs.dump())
	t.Logf("processor logs:\n%s", logs.dump())
}
