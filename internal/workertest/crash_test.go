//go:build unix

package workertest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash run: requests arrive in waves while workers are SIGKILLed and
// restarted at random, so kills land on workers with leased work, and one
// worker is frozen past its lease so that its late acks go stale.
const (
	crashRequests  = 500
	crashWave      = 25                    // requests per wave
	crashWaveEvery = 60 * time.Millisecond // 20 waves: about 1.2s of arrivals
	crashWorkers   = 3
	crashMinKills  = 5
	crashMaxKills  = 15
	crashLease     = time.Second
	crashDeadline  = 90 * time.Second
)

// TestWorkers_SIGKILLLosesNothingAndCompletesExactlyOnce is acceptance
// test 1: three worker processes, 500 requests, a random worker SIGKILLed
// and restarted at least five times while work remains. One worker is
// also SIGSTOPped for 1.5 leases and let go again: its leases are
// recovered by the others while it sleeps, and the acks it sends when it
// wakes must be rejected as stale.
//
// Every request must end completed (none lost, none dead); the completed
// counter, which only an accepted ack bumps, must be exactly 500; every
// request must have run at least once (the workers' record files); and
// each stored result must name a recorded run of the attempt that held
// the lease last.
func TestWorkers_SIGKILLLosesNothingAndCompletesExactlyOnce(t *testing.T) {
	bin := workerBinary(t)
	srv := redistest.StartReal(t, "--appendonly", "yes")
	rdb := srv.Client(t)
	const ns = "crash"
	qm := newManager(t, rdb, ns)
	ctx := context.Background()
	dir := t.TempDir()
	c := newChaos(t, crashWorkers, func(name string) *worker {
		return startWorker(t, bin, srv.URL(), dir, name, "-namespace", ns, "-processor", "sleep",
			"-concurrency", "8", "-lease", crashLease.String(), "-grace", "5s", "-poll", "50ms")
	})

	began := time.Now()
	fed := make(chan error, 1)
	go func() { fed <- feed(ctx, qm) }()
	feeding := true
	killTick := time.NewTimer(killInterval())
	freezeAt := time.After(time.Duration(200+rand.IntN(400)) * time.Millisecond)
	var thawAt <-chan time.Time
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	deadline := time.After(crashDeadline)
	var m *llmqueue.Metrics
	for done := false; !done; {
		select {
		case err := <-fed:
			require.NoError(t, err, "adding requests")
			feeding = false
		case <-killTick.C:
			if c.kills < crashMaxKills && (feeding || c.kills < crashMinKills) {
				c.kill()
				killTick.Reset(killInterval())
			}
		case <-freezeAt:
			c.freeze()
			thawAt = time.After(crashLease + crashLease/2)
		case <-thawAt:
			c.thaw()
		case <-poll.C:
			var err error
			m, err = qm.Metrics(ctx)
			require.NoError(t, err)
			done = !feeding && c.freezes == 1 && c.frozen < 0 && m.TotalQueued == crashRequests &&
				m.TotalInQueue == 0 && m.TotalProcessing == 0 && m.Scheduled == 0
		case <-deadline:
			t.Fatalf("not done after %s (%d kills): %+v", crashDeadline, c.kills, m)
		}
	}
	elapsed := time.Since(began)
	require.GreaterOrEqual(t, c.kills, crashMinKills, "SIGKILLs while work remained")
	// Stopping the survivors lets the thawed one send its late acks; read
	// the counters after that, so a late ack that slipped through counts.
	c.stop()
	m, err := qm.Metrics(ctx)
	require.NoError(t, err)

	assert.EqualValues(t, crashRequests, m.TotalCompleted, "completed counter: each request acked exactly once")
	assert.Zero(t, m.TotalFailed, "failed")
	assert.Zero(t, m.Dead, "dead")

	runs := readRuns(t, c.all)
	byRun := map[run]bool{}
	runsPerID := map[string]int{}
	for _, r := range runs {
		byRun[r] = true
		runsPerID[r.ID]++
	}
	attempts := 0
	for i := range crashRequests {
		id := requestID(i)
		st, err := qm.Status(ctx, id)
		require.NoError(t, err, "request %s lost", id)
		if !assert.Equal(t, llmqueue.StatusCompleted, st.Status, "request %s", id) {
			continue
		}
		attempts += st.Attempts
		assert.GreaterOrEqual(t, runsPerID[id], 1, "request %s completed without a recorded run", id)
		var out output
		require.NoError(t, json.Unmarshal(st.Result, &out), "result of %s", id)
		assert.Equal(t, st.Attempts, out.Attempt, "request %s: the accepted ack is not from its last lease", id)
		assert.True(t, byRun[run{ID: id, Attempt: out.Attempt, PID: out.PID}],
			"request %s: result %s matches no recorded run", id, st.Result)
	}
	assert.Len(t, runsPerID, crashRequests, "distinct requests run")
	assert.GreaterOrEqual(t, len(runs), crashRequests, "runs (at-least-once execution)")

	recovered := m.TotalRecovered
	assert.Positive(t, recovered, "no kill or freeze hit a worker holding leases: the test proved nothing")
	stale := 0
	for _, w := range c.all {
		stale += len(w.logEntries(t, "ack rejected"))
	}
	t.Logf("crash run: %d requests in %s; %d workers, %d SIGKILLs and restarts, %d SIGSTOP of %s; "+
		"%d expired leases recovered; %d attempts (%d extra); %d processor runs recorded (%d re-runs "+
		"of a completed run); %d stale acks rejected; completed counter %d",
		crashRequests, elapsed.Round(time.Millisecond), crashWorkers, c.kills, c.freezes,
		crashLease+crashLease/2, recovered,
		attempts, attempts-crashRequests, len(runs), len(runs)-crashRequests, stale, m.TotalCompleted)
}

// feed adds the requests in waves: sleep 5-50ms each, retries to spare
// for the attempts that kills cost.
func feed(ctx context.Context, qm *llmqueue.QueueManager) error {
	for i := 0; i < crashRequests; i += crashWave {
		reqs := make([]*llmqueue.Request, 0, crashWave)
		for j := i; j < min(i+crashWave, crashRequests); j++ {
			d := time.Duration(5+rand.IntN(46)) * time.Millisecond
			reqs = append(reqs, sleepRequest(requestID(j), d, llmqueue.WithMaxRetries(10)))
		}
		if _, err := qm.AddMany(ctx, reqs); err != nil {
			return err
		}
		time.Sleep(crashWaveEvery)
	}
	return nil
}

func requestID(i int) string { return fmt.Sprintf("req-%03d", i) }

// killInterval is the pause before the next kill: 100-250ms, random so
// kills fall at every point of a request's life.
func killInterval() time.Duration {
	return time.Duration(100+rand.IntN(151)) * time.Millisecond
}
