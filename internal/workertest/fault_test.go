//go:build unix

package workertest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
)

// The fault run of issue 9: everything that can go wrong at once.
const (
	faultRequests = 1000
	faultWave     = 50
	faultWaveGap  = 250 * time.Millisecond // 20 waves: about 5 s of arrivals
	faultWorkers  = 4
	faultKills    = 10
	faultLease    = time.Second
	faultPause    = 1500 * time.Millisecond // past the Add op timeout and the lease
	faultAddOp    = 300 * time.Millisecond
	faultDeadline = 120 * time.Second
)

// addLog records what each Add answered, per request id.
type addLog struct {
	mu      sync.Mutex
	unknown map[string]int // answers "outcome unknown"
	failed  int            // other errors, retried
}

// TestFault_EverythingAtOnceLosesNothing: 4 worker processes, 1,000
// requests added in waves by a manager whose op timeout is 300 ms, Redis
// (AOF, fsync always) SIGSTOPped past that timeout and past the lease
// twice and SIGKILLed once, and 10 worker SIGKILLs. Every Add is retried
// under its id until it answers nil (an identical replay answers success),
// so every request must end completed exactly once: the completed counter
// is 1,000, nothing is dead, and each id that was answered "outcome
// unknown" resolves to its completed request.
func TestFault_EverythingAtOnceLosesNothing(t *testing.T) {
	bin := workerBinary(t)
	srv := redistest.StartReal(t, "--appendonly", "yes", "--appendfsync", "always")
	const ns = "fault"
	ctx := context.Background()
	adder, err := llmqueue.NewQueueManager(srv.Client(t), &llmqueue.Config{Namespace: ns, OpTimeout: faultAddOp})
	require.NoError(t, err)
	qm := newManager(t, srv.Client(t), ns)
	dir := t.TempDir()
	c := newChaos(t, faultWorkers, func(name string) *worker {
		return startWorker(t, bin, srv.URL(), dir, name, "-namespace", ns, "-processor", "sleep",
			"-concurrency", "8", "-lease", faultLease.String(), "-grace", "5s", "-poll", "50ms")
	})

	adds := &addLog{unknown: map[string]int{}}
	fed := make(chan struct{})
	go func() { defer close(fed); feedThroughFaults(ctx, adder, adds) }()

	// The schedule of disturbances, from the start of the arrivals.
	type event struct {
		at   time.Duration
		name string
		do   func()
	}
	var events []event
	for i := range faultKills {
		events = append(events, event{time.Duration(300+i*450) * time.Millisecond, "SIGKILL a worker", c.kill})
	}
	events = append(events,
		event{800 * time.Millisecond, "pause Redis", func() { srv.Pause(t, faultPause) }},
		event{2500 * time.Millisecond, "SIGKILL Redis", func() { srv.Crash(t) }},
		event{4000 * time.Millisecond, "pause Redis", func() { srv.Pause(t, faultPause) }},
	)
	began := time.Now()
	for len(events) > 0 {
		next := 0
		for i, e := range events {
			if e.at < events[next].at {
				next = i
			}
		}
		e := events[next]
		events = append(events[:next], events[next+1:]...)
		time.Sleep(time.Until(began.Add(e.at)))
		e.do()
		t.Logf("%s: %s", time.Since(began).Round(time.Millisecond), e.name)
	}
	select {
	case <-fed:
	case <-time.After(faultDeadline):
		t.Fatal("adds did not finish")
	}

	deadline := time.Now().Add(faultDeadline)
	var m *llmqueue.Metrics
	for {
		m, err = qm.Metrics(ctx)
		if err == nil && m.TotalInQueue == 0 && m.TotalProcessing == 0 && m.Scheduled == 0 &&
			m.TotalCompleted+m.Dead >= faultRequests {
			break
		}
		require.True(t, time.Now().Before(deadline), "not done after %s: %+v, %v", faultDeadline, m, err)
		time.Sleep(100 * time.Millisecond)
	}
	c.stop()
	m, err = qm.Metrics(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, faultRequests, m.TotalCompleted, "completed counter: each request completed exactly once")
	assert.Zero(t, m.Dead, "dead")
	for i := range faultRequests {
		id := requestID(i)
		st, err := qm.Status(ctx, id)
		if assert.NoError(t, err, "request %s lost", id) {
			assert.Equal(t, llmqueue.StatusCompleted, st.Status, "request %s: %s", id, st.Error)
		}
	}
	adds.mu.Lock()
	defer adds.mu.Unlock()
	t.Logf("fault run: %d requests, %d worker SIGKILLs, 2 Redis pauses of %s, 1 Redis SIGKILL; "+
		"%d adds answered outcome unknown (all resolved by id), %d other add errors retried; "+
		"%d expired leases recovered; completed counter %d",
		faultRequests, c.kills, faultPause, len(adds.unknown), adds.failed, m.TotalRecovered, m.TotalCompleted)
}

// feedThroughFaults adds the requests in waves, one Add each, retrying
// every failed Add under the same id until it answers nil.
func feedThroughFaults(ctx context.Context, qm *llmqueue.QueueManager, log *addLog) {
	var wg sync.WaitGroup
	for i := 0; i < faultRequests; i += faultWave {
		for j := i; j < min(i+faultWave, faultRequests); j++ {
			wg.Go(func() {
				d := time.Duration(20+rand.IntN(81)) * time.Millisecond
				req := sleepRequest(requestID(j), d, llmqueue.WithMaxRetries(20))
				for {
					_, err := qm.Add(ctx, req)
					if err == nil {
						return
					}
					var unknown *llmqueue.AddOutcomeUnknownError
					log.mu.Lock()
					if errors.As(err, &unknown) {
						log.unknown[unknown.ID]++
					} else {
						log.failed++
					}
					log.mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
		time.Sleep(faultWaveGap)
	}
	wg.Wait()
}
