//go:build unix

package workertest

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The shutdown run: worker A holds short requests that fit in its grace
// period and long ones that do not when it gets SIGTERM.
const (
	shutdownGrace = time.Second
	shortWork     = 500 * time.Millisecond // done well within the grace
	longWork      = 10 * time.Second       // far past it
	shortCount    = 4
	longCount     = 2
)

// TestWorker_SIGTERMFinishesShortWorkAndHandsBackTheRest is acceptance
// test 5: worker A gets SIGTERM while it runs short and long requests. It
// must finish the short ones, hand the long ones back without spending
// an attempt, and exit 0 within its grace period plus 2s; worker B,
// started afterwards, must complete the long ones.
func TestWorker_SIGTERMFinishesShortWorkAndHandsBackTheRest(t *testing.T) {
	bin := workerBinary(t)
	srv := redistest.StartReal(t)
	rdb := srv.Client(t)
	const ns = "shutdown"
	qm := newManager(t, rdb, ns)
	ctx := context.Background()
	dir := t.TempDir()
	args := []string{"-namespace", ns, "-processor", "sleep", "-concurrency", "8",
		"-lease", "2s", "-poll", "50ms"}

	var short, long, all []string
	var reqs []*llmqueue.Request
	for i := range shortCount + longCount {
		id, d := fmt.Sprintf("short-%d", i), shortWork
		if i >= shortCount {
			id, d = fmt.Sprintf("long-%d", i-shortCount), longWork
			long = append(long, id)
		} else {
			short = append(short, id)
		}
		all = append(all, id)
		reqs = append(reqs, sleepRequest(id, d))
	}
	_, err := qm.AddMany(ctx, reqs)
	require.NoError(t, err)

	a := startWorker(t, bin, srv.URL(), dir, "A", append(args, "-grace", shutdownGrace.String())...)
	waitStatus(t, qm, all, llmqueue.StatusActive, 15*time.Second)
	a.signal(t, syscall.SIGTERM)
	signaled := time.Now()
	require.Equal(t, 0, a.wait(t, shutdownGrace+2*time.Second), "A's exit code")
	took := a.exitedAt.Sub(signaled)
	t.Logf("A exited %s after SIGTERM (grace %s)", took.Round(time.Millisecond), shutdownGrace)
	assert.GreaterOrEqual(t, took, shutdownGrace-100*time.Millisecond, "A did not wait out its grace for the long requests")

	stopping := a.logEntries(t, "shutting down")
	require.Len(t, stopping, 1, "A's shutdown log")
	assert.EqualValues(t, shortCount+longCount, stopping[0]["in_flight"], "A's in-flight requests at SIGTERM")
	assert.Len(t, a.logEntries(t, "requests past the grace period were handed back"), 1, "A's log of handing the long requests back")
	assert.Len(t, a.logEntries(t, "llmqueue: job handed back to the queue at shutdown"), longCount, "A's per-job lines")
	for _, id := range short {
		st, err := qm.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, llmqueue.StatusCompleted, st.Status, "%s after A's shutdown", id)
	}
	for _, id := range long {
		st, err := qm.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, llmqueue.StatusQueued, st.Status, "%s after A's shutdown: handed back", id)
		assert.Zero(t, st.Attempts, "%s: the interrupted attempt must not count", id)
	}

	b := startWorker(t, bin, srv.URL(), dir, "B", args...)
	for _, id := range long {
		wctx, cancel := context.WithTimeout(ctx, longWork+15*time.Second)
		st, err := qm.Wait(wctx, id)
		cancel()
		require.NoError(t, err, "waiting for %s", id)
		assert.Equal(t, llmqueue.StatusCompleted, st.Status, id)
		assert.Equal(t, 1, st.Attempts, "%s: attempts", id)
	}
	b.signal(t, syscall.SIGTERM)
	require.Equal(t, 0, b.wait(t, 5*time.Second), "B's exit code")

	ranBy := map[string][]int{}
	for _, r := range readRuns(t, []*worker{a, b}) {
		ranBy[r.ID] = append(ranBy[r.ID], r.PID)
	}
	for _, id := range short {
		assert.Equal(t, []int{a.pid}, ranBy[id], "%s must be completed by A (pid %d) alone", id, a.pid)
	}
	for _, id := range long {
		assert.Equal(t, []int{b.pid}, ranBy[id], "%s must be completed by B (pid %d) alone", id, b.pid)
	}
	m, err := qm.Metrics(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, shortCount+longCount, m.TotalCompleted, "completed counter")
}

// waitStatus waits until every request in ids has status want.
func waitStatus(t *testing.T, qm *llmqueue.QueueManager, ids []string, want llmqueue.Status, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		n := 0
		for _, id := range ids {
			st, err := qm.Status(context.Background(), id)
			require.NoError(t, err)
			if st.Status == want {
				n++
			}
		}
		if n == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests %s after %s", n, len(ids), want, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
