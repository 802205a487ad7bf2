package llmqueue

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBreaker_DoublesWhileFailingAndCountsInFlightFailuresOnce checks the
// cool-downs of a failing deployment: 1 s, doubling per failure in a row
// up to 30 s, failures during a cool-down not counted, a success resets.
func TestBreaker_DoublesWhileFailingAndCountsInFlightFailuresOnce(t *testing.T) {
	br := &breaker{}
	require.Equal(t, time.Second, br.failed(0))
	// Failures of calls already in flight: the same cool-down, not a longer one.
	d := br.failed(0)
	require.LessOrEqual(t, d, time.Second)
	require.Greater(t, d, 900*time.Millisecond)
	require.Equal(t, 5*time.Second, br.failed(5*time.Second), "a longer Retry-After wins")

	br.until = time.Time{} // the cool-down has passed
	require.Equal(t, 2*time.Second, br.failed(0), "the second failure in a row doubles")
	for range 10 {
		br.until = time.Time{}
		d = br.failed(0)
	}
	require.Equal(t, breakerMax, d, "capped")

	br.ok()
	br.until = time.Time{}
	require.Equal(t, breakerBase, br.failed(0), "a success closes the breaker")
}
