package llmqueue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFailure_KeepsTheReservationOnceTheCallWasSent: providers count a call
// when it arrives, so a failure after BeforeSend must not hand its tokens
// back to the window; one before it (nothing reached the provider) must.
func TestFailure_KeepsTheReservationOnceTheCallWasSent(t *testing.T) {
	cases := []struct {
		name     string
		send     bool
		fail     func() error
		wantUsed int64
	}{
		{"retryable after send", true, func() error { return errors.New("502 from the provider") }, 1_000},
		{"permanent after send", true, func() error { return Permanent(errors.New("400 after send")) }, 1_000},
		{"retryable before send", false, func() error { return errors.New("could not build the call") }, 0},
		{"permanent before send", false, func() error { return Permanent(errors.New("bad payload")) }, 0},
		{"429 after send follows the meter", true, func() error { return RateLimited(time.Hour, errors.New("429")) }, 0},
	}
	s := redistest.StartMini(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			qm := newManager(t, s, &Config{Namespace: "fail" + string(rune('a'+i)), Budget: Budget{TPM: 100_000, SafetyBufferPercent: -1}})
			calls := make(chan struct{}, 10)
			proc := ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
				if tc.send {
					BeforeSend(ctx)
				}
				calls <- struct{}{}
				return nil, tc.fail()
			})
			startProcessor(t, qm, proc, &WorkerConfig{PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return time.Hour }})
			_, err := qm.Add(context.Background(), NewRequest(`{}`, WithEstimatedTokens(1_000), WithMaxRetries(1)))
			require.NoError(t, err)
			<-calls
			waitFor(t, 5*time.Second, func() bool {
				m, err := qm.Metrics(context.Background())
				return err == nil && m.TotalProcessing == 0
			}, "the attempt acknowledged")
			m, err := qm.Metrics(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tc.wantUsed, m.TokenUsage.CurrentUsage)
		})
	}
}
