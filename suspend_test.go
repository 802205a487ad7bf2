package llmqueue

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// suspendDirect leases the head request and suspends it like a processor
// returning Suspend(reason, nil) would, and returns its id.
func suspendDirect(t *testing.T, qm *QueueManager, reason string) string {
	t.Helper()
	job := leaseDirect(t, qm, time.Minute)
	st, err := qm.store.Fail(context.Background(), redisstore.FailArgs{ID: job.ID, Token: job.Lease,
		Kind: "suspend", Message: reason, Window: time.Minute, Settle: redisstore.Keep})
	require.NoError(t, err)
	require.Equal(t, "suspended", st)
	return job.ID
}

// TestSuspend_ResumeThenCrashDoesNotSpendARetry: a suspension is not a
// failed attempt. With one retry allowed, a request that was suspended,
// resumed, then lost its worker still has its retry left.
func TestSuspend_ResumeThenCrashDoesNotSpendARetry(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		_, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(1)))
		require.NoError(t, err)
		id := suspendDirect(t, qm, "ask a human")
		require.NoError(t, qm.Resume(ctx, id, "approved"))

		leaseDirect(t, qm, 100*time.Millisecond) // the worker dies holding it
		time.Sleep(150 * time.Millisecond)
		// Any lease call recovers expired leases.
		_, err = qm.store.Lease(ctx, redisstore.LeaseArgs{Max: 0, Lease: time.Second, Window: time.Minute,
			Cycle: [3]int{3, 2, 1}})
		require.NoError(t, err)
		st, err := qm.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, StatusQueued, st.Status, "error: %s", st.Error)
		assert.Equal(t, 1, st.Attempts, "only the crashed attempt counts")

		// Its retry is still there: a worker completes it.
		startProcessor(t, qm, newRecorder(0), &WorkerConfig{PollInterval: 20 * time.Millisecond})
		assert.Equal(t, StatusCompleted, wait(t, qm, id).Status)
	})
}

// TestSuspend_ReasonClearedWhenTheRequestLeavesSuspension: suspend_reason
// describes a suspended request; once resumed (and completed) or canceled
// it must not linger.
func TestSuspend_ReasonClearedWhenTheRequestLeavesSuspension(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		for range 2 {
			_, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
			require.NoError(t, err)
		}
		resumed := suspendDirect(t, qm, "ask a human")
		canceled := suspendDirect(t, qm, "ask another human")
		st, err := qm.Status(ctx, resumed)
		require.NoError(t, err)
		require.Equal(t, "ask a human", st.SuspendReason)

		require.NoError(t, qm.Resume(ctx, resumed, "approved"))
		st, err = qm.Status(ctx, resumed)
		require.NoError(t, err)
		assert.Empty(t, st.SuspendReason, "queued again")
		startProcessor(t, qm, newRecorder(0), &WorkerConfig{PollInterval: 20 * time.Millisecond})
		st = wait(t, qm, resumed)
		assert.Equal(t, StatusCompleted, st.Status)
		assert.Empty(t, st.SuspendReason, "completed")
		b, err := json.Marshal(st)
		require.NoError(t, err)
		assert.NotContains(t, string(b), "suspend_reason")

		_, err = qm.Cancel(ctx, canceled)
		require.NoError(t, err)
		st, err = qm.Status(ctx, canceled)
		require.NoError(t, err)
		assert.Equal(t, StatusCanceled, st.Status)
		assert.Empty(t, st.SuspendReason, "canceled")
	})
}

// TestStatus_SuspendReasonOnlyWhileSuspended: a hash written before the
// fix above still holds the reason after it completed; Status reports a
// reason only for a suspended request.
func TestStatus_SuspendReasonOnlyWhileSuspended(t *testing.T) {
	h := map[string]string{"status": "completed", "prio": "low", "tokens": "1", "att": "1", "maxr": "3",
		"reason": "ask a human"}
	st, err := decodeStatus("x", h)
	require.NoError(t, err)
	assert.Empty(t, st.SuspendReason)
	h["status"] = "suspended"
	st, err = decodeStatus("x", h)
	require.NoError(t, err)
	assert.Equal(t, "ask a human", st.SuspendReason)
}

// TestResume_RequiresAnInput: a resume approves what a human was asked;
// nil (no answer) is refused and leaves the request suspended, while
// JSON null given on purpose is an answer.
func TestResume_RequiresAnInput(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		_, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		id := suspendDirect(t, qm, "ask a human")

		for name, input := range map[string]any{"nil": nil, "empty raw": json.RawMessage(nil)} {
			assert.ErrorIs(t, qm.Resume(ctx, id, input), ErrInvalidPayload, name)
			st, err := qm.Status(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, StatusSuspended, st.Status, name)
		}

		require.NoError(t, qm.Resume(ctx, id, json.RawMessage("null")))
		job := leaseDirect(t, qm, time.Minute)
		assert.True(t, job.Record.HasInput)
		assert.Equal(t, "null", string(job.Record.Input))
	})
}
