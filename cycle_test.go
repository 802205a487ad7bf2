package llmqueue

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaseLog records each lease's class in the namespace's global lease
// order (lease tokens come from one counter).
type leaseLog struct {
	mu     sync.Mutex
	leases map[int]Priority
	starts []startRecord
}

func (l *leaseLog) Process(_ context.Context, job *Job) (*Result, error) {
	// A token is "<counter>.<nonce>": the counter orders the leases.
	seq, _, _ := strings.Cut(job.lease, ".")
	n, err := strconv.Atoi(seq)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.leases[n] = job.Priority
	l.starts = append(l.starts, startRecord{ID: job.ID, At: time.Now(), Tokens: job.EstimatedTokens, Priority: job.Priority})
	l.mu.Unlock()
	time.Sleep(time.Millisecond)
	return &Result{}, nil
}

// first returns the class counts of the first n leases.
func (l *leaseLog) first(n int) map[Priority]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	tokens := make([]int, 0, len(l.leases))
	for tok := range l.leases {
		tokens = append(tokens, tok)
	}
	sort.Ints(tokens)
	counts := map[Priority]int{}
	for _, tok := range tokens[:min(n, len(tokens))] {
		counts[l.leases[tok]]++
	}
	return counts
}

func (l *leaseLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.leases)
}

func addClass(t *testing.T, qm *QueueManager, n int, tokens int64) {
	t.Helper()
	reqs := make([]*Request, n)
	for i := range reqs {
		reqs[i] = NewRequest(`{}`, WithEstimatedTokens(tokens))
	}
	_, err := qm.AddMany(context.Background(), reqs)
	require.NoError(t, err)
}

func TestCycle_RatioHoldsAcrossProcesses(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	cases := []struct {
		name                     string
		low, medium, long        int // queued per class
		leases                   int
		wantLow, wantMed, wantLn int
	}{
		{"all classes backlogged", 400, 300, 200, 600, 300, 200, 100},
		{"low empty: medium and long take every slot", 0, 400, 400, 300, 0, 200, 100},
		{"long empty: low and medium take every slot", 400, 400, 0, 500, 300, 200, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, s *redistest.Server) {
				seed := newManager(t, s, nil)
				addClass(t, seed, tc.low, 1_000)
				addClass(t, seed, tc.medium, 20_000)
				addClass(t, seed, tc.long, 80_000)
				log := &leaseLog{leases: map[int]Priority{}}
				for range 2 {
					startProcessor(t, newManager(t, s, nil), log, &WorkerConfig{Concurrency: 6})
				}
				waitFor(t, 30*time.Second, func() bool { return log.len() >= tc.leases }, "leases")
				got := log.first(tc.leases)
				t.Logf("first %d leases: low %d, medium %d, long %d", tc.leases,
					got[PriorityLow], got[PriorityMedium], got[PriorityLong])
				// Within one cycle of 3-2-1.
				assert.InDelta(t, tc.wantLow, got[PriorityLow], 3)
				assert.InDelta(t, tc.wantMed, got[PriorityMedium], 2)
				assert.InDelta(t, tc.wantLn, got[PriorityLong], 1)
				assert.Equal(t, tc.leases, got[PriorityLow]+got[PriorityMedium]+got[PriorityLong])
			})
		})
	}
}

func TestCycle_LongRequestNotStarvedByFlood(t *testing.T) {
	const window = time.Second
	budget := Budget{TPM: 100_000, SafetyBufferPercent: -1, Window: window}
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		qm := newManager(t, s, &Config{Budget: budget})
		rec := newRecorder(5 * time.Millisecond)
		for range 2 {
			startProcessor(t, newManager(t, s, &Config{Budget: budget}), rec, &WorkerConfig{Concurrency: 8})
		}
		// A constant flood: far more low requests than the budget allows.
		flood := make(chan struct{})
		go func() {
			defer close(flood)
			for ctx.Err() == nil {
				reqs := make([]*Request, 20)
				for i := range reqs {
					reqs[i] = NewRequest(`{}`, WithEstimatedTokens(2_000))
				}
				if _, err := qm.AddMany(ctx, reqs); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		time.Sleep(window + window/2)
		added := time.Now()
		id, err := qm.Add(ctx, NewRequest(`{"big":true}`, WithEstimatedTokens(90_000)))
		require.NoError(t, err)
		var started time.Time
		waitFor(t, 3*window, func() bool {
			for _, st := range rec.snapshot() {
				if st.ID == id {
					started = st.At
					return true
				}
			}
			return false
		}, "the long request to start")
		cancel()
		<-flood
		wait := started.Sub(added)
		t.Logf("long request started %s after Add under a flood", wait.Round(time.Millisecond))
		assert.Less(t, wait, 2*window)
	})
}
