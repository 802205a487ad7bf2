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

// TestShutdown_ReturnsPromptlyWhenItsContextEnds is issue 11 item 5:
// Shutdown cancels what runs when its ctx ends and returns within ~100ms,
// whether or not the processor honours the cancellation; what ignores it
// is handed back in the background once it returns.
func TestShutdown_ReturnsPromptlyWhenItsContextEnds(t *testing.T) {
	cases := []struct {
		name        string
		ignoresCtx  bool
		wantErr     string
		queuedAtEnd bool // handed back by the time Shutdown returns
	}{
		{"a processor that honours ctx is handed back before Shutdown returns", false,
			"1 requests handed back: context deadline exceeded", true},
		{"a processor that ignores ctx is left running", true,
			"1 requests handed back, 1 of them still running", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			qm := newManager(t, redistest.StartMini(t), nil)
			release := make(chan struct{})
			started := make(chan struct{}, 1)
			proc := ProcessorFunc(func(pctx context.Context, job *Job) (*Result, error) {
				started <- struct{}{}
				if tc.ignoresCtx {
					<-release
				} else {
					<-pctx.Done()
				}
				return nil, pctx.Err()
			})
			bp, err := NewBatchProcessor(qm, proc, &WorkerConfig{PollInterval: 20 * time.Millisecond})
			require.NoError(t, err)
			require.NoError(t, bp.Start(ctx))
			id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
			require.NoError(t, err)
			<-started

			sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			err = bp.Shutdown(sctx)
			late := time.Since(deadlineOf(t, sctx))
			t.Logf("Shutdown returned %s after its ctx ended: %v", late.Round(time.Millisecond), err)
			assert.Less(t, late, 150*time.Millisecond, "Shutdown must return about when its ctx ends")
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorContains(t, err, tc.wantErr)

			st, err := qm.Status(ctx, id)
			require.NoError(t, err)
			if tc.queuedAtEnd {
				assert.Equal(t, StatusQueued, st.Status)
			} else {
				assert.Equal(t, StatusActive, st.Status, "still running when Shutdown returned")
			}
			close(release)
			// The call left behind returns and is handed back in the
			// background; its attempt does not count.
			waitFor(t, 5*time.Second, func() bool {
				st, err := qm.Status(ctx, id)
				return err == nil && st.Status == StatusQueued
			}, "the request to be handed back")
			st, err = qm.Status(ctx, id)
			require.NoError(t, err)
			assert.Zero(t, st.Attempts)
			assert.True(t, errors.Is(bp.Shutdown(ctx), ErrClosed))
		})
	}
}

func deadlineOf(t *testing.T, ctx context.Context) time.Time {
	t.Helper()
	d, ok := ctx.Deadline()
	require.True(t, ok)
	return d
}
