package providertest

import (
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

func TestLimiter_SlidingWindowTokens(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(Limits{TPM: 100, Window: 10 * time.Second})
	l.now = clk.now

	require.True(t, l.admit(60).ok)
	clk.advance(4 * time.Second)
	require.True(t, l.admit(30).ok)

	v := l.admit(30)
	require.False(t, v.ok)
	assert.Equal(t, "tokens", v.limit)
	assert.Equal(t, 6*time.Second, v.wait, "the first charge leaves the window in 6 s")
	assert.Equal(t, int64(10), v.remainingTokens)

	clk.advance(6 * time.Second)
	v = l.admit(30)
	require.True(t, v.ok, "the 60 expired")
	assert.Equal(t, int64(40), v.remainingTokens)
	assert.Equal(t, 10*time.Second, v.resetTokens, "full again when the newest charge expires")

	v = l.admit(500)
	assert.False(t, v.ok)
	assert.Equal(t, 10*time.Second, v.wait, "larger than the limit: a whole window")
	assert.LessOrEqual(t, l.snapshot().PeakWindowTokens, int64(100))
	assert.Equal(t, int64(2), l.snapshot().RateLimited)
}

func TestLimiter_Requests(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(Limits{RPM: 2, Window: time.Second})
	l.now = clk.now
	require.True(t, l.admit(1).ok)
	clk.advance(300 * time.Millisecond)
	require.True(t, l.admit(1).ok)
	v := l.admit(1)
	require.False(t, v.ok)
	assert.Equal(t, "requests", v.limit)
	assert.Equal(t, 700*time.Millisecond, v.wait)
	assert.Equal(t, int64(-1), v.remainingTokens, "no token limit")
}

func TestLimiter_ConcurrentNeverOverLimit(t *testing.T) {
	l := newLimiter(Limits{TPM: 1000, RPM: 50, Window: 200 * time.Millisecond})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 200 {
				l.admit(37)
			}
		})
	}
	wg.Wait()
	st := l.snapshot()
	assert.LessOrEqual(t, st.PeakWindowTokens, int64(1000))
	assert.LessOrEqual(t, st.PeakWindowRequests, int64(50))
	assert.Positive(t, st.RateLimited)
}
