package providertest

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock lets the limiter's window slide without sleeping.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(l Limits) (*limiter, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	lim := newLimiter(l)
	lim.now = clk.now
	return lim, clk
}

// tok is a call charging n combined tokens only.
func tok(n int64) Call { return Call{Tokens: n} }

func TestLimiter_SlidingWindowTokens(t *testing.T) {
	l, clk := newTestLimiter(Limits{TPM: 100, Window: 10 * time.Second})

	require.True(t, l.admit(tok(60)).ok)
	clk.advance(4 * time.Second)
	require.True(t, l.admit(tok(30)).ok)

	v := l.admit(tok(30))
	require.False(t, v.ok)
	assert.Equal(t, dimTokens, v.limit)
	assert.Equal(t, 6*time.Second, v.wait, "the first charge leaves the window in 6 s")
	assert.Equal(t, int64(10), v.remaining[dimTokens])

	clk.advance(6 * time.Second)
	v = l.admit(tok(30))
	require.True(t, v.ok, "the 60 expired")
	assert.Equal(t, int64(40), v.remaining[dimTokens])
	assert.Equal(t, 10*time.Second, v.reset[dimTokens], "empty again when the newest charge expires")

	v = l.admit(tok(500))
	assert.False(t, v.ok)
	assert.Equal(t, 10*time.Second, v.wait, "larger than the limit: a whole window")
	assert.Equal(t, int64(90), l.snapshot().PeakWindowTokens)
	assert.Equal(t, int64(2), l.snapshot().RateLimited)
	assert.Equal(t, int64(120), l.snapshot().TokensCharged, "refused calls cost nothing")
}

func TestLimiter_Requests(t *testing.T) {
	l, clk := newTestLimiter(Limits{RPM: 2, Window: time.Second})
	require.True(t, l.admit(tok(1)).ok)
	clk.advance(300 * time.Millisecond)
	require.True(t, l.admit(tok(1)).ok)
	v := l.admit(tok(1))
	require.False(t, v.ok)
	assert.Equal(t, dimRequests, v.limit)
	assert.Equal(t, 700*time.Millisecond, v.wait)
	assert.Equal(t, int64(-1), v.remaining[dimTokens], "no token limit")
	assert.Equal(t, int64(0), v.remaining[dimRequests])
}

// TestLimiter_Dimensions checks each dimension admits on its own arrival
// charge, and that the binding one is the one that frees up last.
func TestLimiter_Dimensions(t *testing.T) {
	first := Call{Tokens: 50, InputTokens: 10, OutputTokens: 40}
	cases := []struct {
		name   string
		limits Limits
		second Call
		ok     bool
		limit  dim
	}{
		{"all fit", Limits{TPM: 100, ITPM: 20, OTPM: 80, RPM: 2}, first, true, 0},
		{"combined overflows", Limits{TPM: 99}, first, false, dimTokens},
		{"input overflows", Limits{TPM: 1000, ITPM: 15}, first, false, dimInput},
		{"output overflows", Limits{ITPM: 1000, OTPM: 79}, first, false, dimOutput},
		{"requests overflow", Limits{TPM: 1000, RPM: 1}, first, false, dimRequests},
		{"unlimited", Limits{}, Call{Tokens: 1e9, InputTokens: 1e9, OutputTokens: 1e9}, true, 0},
		{"zero output fits a full OTPM", Limits{OTPM: 40}, Call{Tokens: 5, InputTokens: 5}, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.limits.Window = time.Second
			l, _ := newTestLimiter(c.limits)
			require.True(t, l.admit(first).ok)
			v := l.admit(c.second)
			assert.Equal(t, c.ok, v.ok)
			if !c.ok {
				assert.Equal(t, c.limit, v.limit)
				assert.Equal(t, time.Second, v.wait)
				assert.Len(t, l.record(), 1, "a refused call is not recorded")
			}
		})
	}
}

func TestLimiter_BindingIsTheLongestWait(t *testing.T) {
	l, clk := newTestLimiter(Limits{ITPM: 10, OTPM: 10, Window: 10 * time.Second})
	require.True(t, l.admit(Call{OutputTokens: 10}).ok)
	clk.advance(5 * time.Second)
	require.True(t, l.admit(Call{InputTokens: 10}).ok)
	v := l.admit(Call{InputTokens: 1, OutputTokens: 1})
	require.False(t, v.ok)
	assert.Equal(t, dimInput, v.limit, "input frees up in 10 s, output in 5 s")
	assert.Equal(t, 10*time.Second, v.wait)
}

func TestLimiter_Settle(t *testing.T) {
	cases := []struct {
		name        string
		settleAfter time.Duration
		to          Call
		// peak output and used output right after the settle
		peak, used int64
		// whether a 50-token output call fits after the settle
		fits bool
	}{
		{"down frees room", time.Second, Call{Tokens: 30, InputTokens: 10, OutputTokens: 20}, 80, 20, true},
		{"unchanged", time.Second, Call{Tokens: 90, InputTokens: 10, OutputTokens: 80}, 80, 80, false},
		{"up raises the peak past the limit", time.Second, Call{Tokens: 410, InputTokens: 10, OutputTokens: 400}, 400, 400, false},
		{"after the window only the record changes", 11 * time.Second, Call{Tokens: 410, InputTokens: 10, OutputTokens: 400}, 80, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, clk := newTestLimiter(Limits{OTPM: 100, Window: 10 * time.Second})
			v := l.admit(Call{Tokens: 90, InputTokens: 10, OutputTokens: 80})
			require.True(t, v.ok)
			start := clk.now()
			clk.advance(c.settleAfter)
			after := l.settle(v.id, c.to)
			assert.Equal(t, c.used, after.used[dimOutput])
			assert.Equal(t, max(0, 100-c.used), after.remaining[dimOutput])
			st := l.snapshot()
			assert.Equal(t, c.peak, st.PeakWindowOutputTokens)
			assert.Equal(t, c.to.Tokens, st.TokensCharged)
			assert.Equal(t, []Call{{At: start, Tokens: c.to.Tokens, InputTokens: 10, OutputTokens: c.to.OutputTokens}}, l.record(),
				"the record keeps the arrival and holds the final charge")
			assert.Equal(t, c.fits, l.admit(Call{OutputTokens: 50}).ok)
		})
	}
}

func TestLimiter_SettledCallLeavesAtItsArrivalWindow(t *testing.T) {
	l, clk := newTestLimiter(Limits{OTPM: 100, Window: 10 * time.Second})
	v := l.admit(Call{OutputTokens: 100})
	clk.advance(9 * time.Second)
	l.settle(v.id, Call{OutputTokens: 60})
	w := l.admit(Call{OutputTokens: 50})
	require.False(t, w.ok)
	assert.Equal(t, time.Second, w.wait, "the entry keeps its arrival time")
	assert.Equal(t, time.Second, w.reset[dimOutput])
	clk.advance(time.Second)
	assert.True(t, l.admit(Call{OutputTokens: 100}).ok)
}

func TestLimiter_ConcurrentNeverOverLimit(t *testing.T) {
	l := newLimiter(Limits{TPM: 1000, ITPM: 300, OTPM: 800, RPM: 50, Window: 200 * time.Millisecond})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 200 {
				if v := l.admit(Call{Tokens: 37, InputTokens: 7, OutputTokens: 30}); v.ok {
					l.settle(v.id, Call{Tokens: 17, InputTokens: 7, OutputTokens: 10})
				}
			}
		})
	}
	wg.Wait()
	st := l.snapshot()
	assert.LessOrEqual(t, st.PeakWindowTokens, int64(1000))
	assert.LessOrEqual(t, st.PeakWindowInputTokens, int64(300))
	assert.LessOrEqual(t, st.PeakWindowOutputTokens, int64(800))
	assert.LessOrEqual(t, st.PeakWindowRequests, int64(50))
	assert.Positive(t, st.RateLimited)
	calls := l.record()
	assert.Len(t, calls, 3200-int(st.RateLimited))
	assert.LessOrEqual(t, BusiestWindow(calls, 200*time.Millisecond).InputTokens, int64(300))
}

// A call judged after it arrived (its handler ran late) is judged by the
// windows around its arrival, and recorded there.
func TestLimiter_LateJudgedCallCountsFromItsArrival(t *testing.T) {
	w := time.Second
	cases := []struct {
		name   string
		tokens int64
		ok     bool
	}{
		{"shares a window with a call that has left by now", 60, false},
		{"fits beside it", 40, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, clk := newTestLimiter(Limits{TPM: 100, Window: w})
			start := clk.now()
			require.True(t, l.admit(tok(60)).ok)
			clk.advance(w + 50*time.Millisecond) // the first call left the window 50 ms ago
			arrived := start.Add(w - 50*time.Millisecond)
			v := l.admit(Call{At: arrived, Tokens: c.tokens})
			assert.Equal(t, c.ok, v.ok)
			if c.ok {
				calls := l.record()
				require.Len(t, calls, 2)
				assert.Equal(t, arrived, calls[1].At, "recorded at its arrival")
			}
			assert.LessOrEqual(t, BusiestWindow(l.record(), w).Tokens, int64(100))
		})
	}
}

// Whatever order and lag calls reach the limiter in, no window of the
// record holds more than the limit, and a settle finds its call.
func TestLimiter_RecordNeverExceedsTheLimitWithLateJudgedCalls(t *testing.T) {
	const limit = 1000
	w := time.Second
	l, clk := newTestLimiter(Limits{TPM: limit, Window: w})
	rng := rand.New(rand.NewPCG(7, 7))
	admitted := 0
	for range 5000 {
		clk.advance(time.Duration(rng.IntN(5)) * time.Millisecond)
		lag := time.Duration(rng.IntN(200)) * time.Millisecond
		n := int64(1 + rng.IntN(150))
		v := l.admit(Call{At: clk.now().Add(-lag), Tokens: n})
		if v.ok {
			admitted++
			if rng.IntN(2) == 0 {
				l.settle(v.id, Call{Tokens: n / 2})
			}
		}
	}
	calls := l.record()
	require.Len(t, calls, admitted)
	require.True(t, slices.IsSortedFunc(calls, func(a, b Call) int { return a.At.Compare(b.At) }))
	assert.LessOrEqual(t, BusiestWindow(calls, w).Tokens, int64(limit))
	assert.Greater(t, admitted, 300, "the limiter still admits traffic")
}
