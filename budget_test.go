package llmqueue

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxInWindow returns the most tokens and requests whose starts fall in any
// span [s, s+w), for every start s.
func maxInWindow(starts []startRecord, w time.Duration) (tokens, requests int64) {
	sort.Slice(starts, func(i, j int) bool { return starts[i].At.Before(starts[j].At) })
	j := 0
	var sum int64
	for i := range starts {
		for j < len(starts) && starts[j].At.Before(starts[i].At.Add(w)) {
			sum += starts[j].Tokens
			j++
		}
		tokens = max(tokens, sum)
		requests = max(requests, int64(j-i))
		sum -= starts[i].Tokens
	}
	return tokens, requests
}

func TestMaxInWindow(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int, tok int64) startRecord {
		return startRecord{At: t0.Add(time.Duration(ms) * time.Millisecond), Tokens: tok}
	}
	tok, req := maxInWindow([]startRecord{at(0, 5), at(999, 5), at(1000, 7), at(1500, 1)}, time.Second)
	assert.EqualValues(t, 13, tok) // 999..1999 holds 5+7+1
	assert.EqualValues(t, 3, req)
}

func TestBudget_NeverExceedsWindowAcrossProcesses(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	// 2-second windows: the ledger frees a window's budget at once, and
	// the next burst must start before the measured span ends. 1-second
	// windows left a burst under a second of slack, which miniredis (in
	// this race-built process) missed on a loaded 2-core machine (75%).
	const window = 2 * time.Second
	cases := []struct {
		name   string
		budget Budget
		tokens int64
	}{
		{"tokens bind", Budget{TPM: 20_000, Window: window}, 1000},
		{"requests bind", Budget{RPM: 20, Window: window}, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, s *redistest.Server) {
				ctx := context.Background()
				seed := newManager(t, s, &Config{Budget: tc.budget})
				reqs := make([]*Request, 200)
				for i := range reqs {
					reqs[i] = NewRequest(map[string]int{"i": i}, WithEstimatedTokens(tc.tokens))
				}
				_, err := seed.AddMany(ctx, reqs)
				require.NoError(t, err)

				rec := newRecorder(20 * time.Millisecond)
				for range 4 {
					qm := newManager(t, s, &Config{Budget: tc.budget})
					startProcessor(t, qm, rec, &WorkerConfig{Concurrency: 8})
				}
				const windows = 4
				waitFor(t, 30*time.Second, func() bool {
					st := rec.snapshot()
					return len(st) > 0 && time.Since(st[0].At) > windows*window+200*time.Millisecond
				}, "a saturated run of 4 windows")

				starts := rec.snapshot()
				maxTok, maxReq := maxInWindow(starts, window)
				usableTok, usableReq := tc.budget.UsableTokens(), tc.budget.UsableRequests()
				if usableTok > 0 {
					assert.LessOrEqual(t, maxTok, usableTok, "tokens in one window")
				}
				if usableReq > 0 {
					assert.LessOrEqual(t, maxReq, usableReq, "requests in one window")
				}

				// Utilization: what started in the first `windows` windows
				// against what the budget allowed in them.
				t0 := starts[0].At
				var used, n int64
				for _, st := range starts {
					if st.At.Before(t0.Add(windows * window)) {
						used += st.Tokens
						n++
					}
				}
				var util float64
				if usableTok > 0 {
					util = float64(used) / float64(windows*usableTok)
				} else {
					util = float64(n) / float64(windows*usableReq)
				}
				t.Logf("max in window: %d tokens, %d requests; utilization %.1f%% over %d windows; longest lease-to-start %s",
					maxTok, maxReq, util*100, windows, rec.longestDelay())
				assert.GreaterOrEqual(t, util, 0.90, "utilization")
			})
		})
	}
}

// The meter decides what a call costs after it ran: ExactMeter frees the
// unused part of the estimate, so more calls run in the same window;
// OpenAIMeter keeps what OpenAI charged at arrival.
func TestBudget_SettleFollowsTheMeter(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	const window = 2 * time.Second
	budget := Budget{TPM: 10_000, SafetyBufferPercent: -1, Window: window} // usable 10,000
	run := func(t *testing.T, s *redistest.Server, meter Meter, factor float64) (int, int64) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{Budget: budget, Meter: meter, Namespace: "f" + time.Now().Format("150405.000000")})
		reqs := make([]*Request, 40)
		for i := range reqs {
			reqs[i] = NewRequest(`{}`, WithEstimatedTokens(1000))
		}
		_, err := qm.AddMany(ctx, reqs)
		require.NoError(t, err)
		rec := newRecorder(10 * time.Millisecond)
		rec.usageFactor = factor
		bp := startProcessor(t, qm, rec, &WorkerConfig{Concurrency: 4})
		time.Sleep(window - 300*time.Millisecond)
		starts := rec.snapshot()
		inFirst := 0
		for _, st := range starts {
			if st.At.Before(starts[0].At.Add(window - 300*time.Millisecond)) {
				inFirst++
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		require.NoError(t, bp.Shutdown(sctx))
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		return inFirst, m.TokenUsage.Used
	}
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		full, fullUsed := run(t, s, ExactMeter{}, 1)
		assert.Equal(t, 10, full, "estimate-sized usage fits exactly 10")
		assert.EqualValues(t, 10_000, fullUsed)

		half, halfUsed := run(t, s, ExactMeter{}, 0.5)
		assert.Greater(t, half, full+5, "ExactMeter: refunds let more run in the same window")
		assert.LessOrEqual(t, halfUsed, int64(10_000))
		assert.EqualValues(t, int64(half)*500, halfUsed, "ExactMeter: the ledger holds the reported usage")

		kept, keptUsed := run(t, s, OpenAIMeter{}, 0.5)
		assert.Equal(t, 10, kept, "OpenAIMeter: nothing is refunded inside the window")
		assert.EqualValues(t, 10_000, keptUsed, "OpenAIMeter: the ledger holds what was charged at arrival")

		over, overUsed := run(t, s, OpenAIMeter{}, 1.5)
		t.Logf("starts in the first window: exact %d/%d, openai half %d, openai 1.5x %d", full, half, kept, over)
		assert.LessOrEqual(t, over, 10)
		assert.EqualValues(t, int64(over)*1500, overUsed, "OpenAIMeter: usage above the estimate is charged")
	})
}

// scriptedProcessor answers each call with the next of its outcomes, then
// with plain successes.
type scriptedProcessor struct {
	mu       sync.Mutex
	outcomes []func(job *Job) (*Result, error)
}

func (p *scriptedProcessor) Process(_ context.Context, job *Job) (*Result, error) {
	p.mu.Lock()
	var next func(*Job) (*Result, error)
	if len(p.outcomes) > 0 {
		next, p.outcomes = p.outcomes[0], p.outcomes[1:]
	}
	p.mu.Unlock()
	if next != nil {
		return next(job)
	}
	return &Result{Usage: Usage{InputTokens: job.EstimatedTokens}}, nil
}

func TestBudget_ProviderFeedbackTightensTheLedger(t *testing.T) {
	// Not parallel: it times a cool-down to 0.3 s.
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		budget := Budget{TPM: 10_000, RPM: 100, SafetyBufferPercent: -1, Window: 2 * time.Second}
		qm := newManager(t, s, &Config{Budget: budget, Meter: OpenAIMeter{}})
		proc := &scriptedProcessor{outcomes: []func(*Job) (*Result, error){
			// The provider says only 2,000 tokens are left: someone else
			// spent 7,000 the ledger never saw.
			func(*Job) (*Result, error) {
				return &Result{Usage: Usage{InputTokens: 1_000},
					RateLimit: &RateLimitInfo{RemainingTokens: 2_000, RemainingRequests: -1}}, nil
			},
			// A provider that says more is left than the ledger thinks
			// changes nothing.
			func(*Job) (*Result, error) {
				return &Result{Usage: Usage{InputTokens: 1_000},
					RateLimit: &RateLimitInfo{LimitTokens: 10_000, RemainingTokens: 9_999, RemainingRequests: -1}}, nil
			},
			// A 429: nothing charged for the call, the provider's count
			// booked, every worker pauses for its Retry-After.
			func(*Job) (*Result, error) {
				return nil, &RateLimitedError{RetryAfter: 800 * time.Millisecond, Err: errors.New("429"),
					Info: &RateLimitInfo{RemainingTokens: 500, RemainingRequests: -1}}
			},
		}}
		bp := startProcessor(t, qm, proc, &WorkerConfig{Concurrency: 1})
		addClass(t, qm, 1, 1_000)
		waitFor(t, 5*time.Second, func() bool { return bp.Status().Completed == 1 }, "one completion")
		m, err := qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 8_000, m.TokenUsage.Used, "1,000 of ours + 7,000 the provider reported")

		addClass(t, qm, 1, 1_000)
		waitFor(t, 5*time.Second, func() bool { return bp.Status().Completed == 2 }, "a second completion")
		m, err = qm.Metrics(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 9_000, m.TokenUsage.Used, "our second 1,000 and nothing more")

		addClass(t, qm, 1, 500)
		waitFor(t, 5*time.Second, func() bool {
			m, err = qm.Metrics(ctx)
			return err == nil && m.TotalRateLimit == 1
		}, "a rate-limited attempt")
		assert.EqualValues(t, 9_500, m.TokenUsage.Used, "the 429 is released, the provider's 9,500 booked")
		assert.InDelta(t, 0.8, m.CooldownSeconds, 0.3)
	})
}
