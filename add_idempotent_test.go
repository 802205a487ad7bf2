package llmqueue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lossyManager returns a manager whose client reaches s through a proxy
// that can swallow replies, with a short read timeout and maxRetries
// go-redis retries (-1: none).
func lossyManager(t *testing.T, s *redistest.Server, maxRetries int) (*QueueManager, *redistest.ReplyDropper) {
	t.Helper()
	if s.Backend == redistest.Cluster {
		t.Skip("the reply-dropping proxy fronts a single server")
	}
	proxy := redistest.NewReplyDropper(t, s.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr, ReadTimeout: 300 * time.Millisecond,
		MaxRetries: maxRetries, MinRetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	qm, err := NewQueueManager(rdb, &Config{OpTimeout: 5 * time.Second})
	require.NoError(t, err)
	// Load the script and open a connection, so the next reply through the
	// proxy is the next Add's.
	_, err = qm.Add(context.Background(), NewRequest(`{}`, WithID("warm-up")))
	require.NoError(t, err)
	return qm, proxy
}

// queuedCount is how many requests wait in the namespace's queues.
func queuedCount(t *testing.T, qm *QueueManager) int64 {
	t.Helper()
	m, err := qm.Metrics(context.Background())
	require.NoError(t, err)
	return m.TotalInQueue
}

// TestAdd_IdenticalReplayAnswersSuccessAndADifferentRequestIsADuplicate is
// issue 9 item 7: adding the same request under the same ID again, whether
// it is still queued or already leased, answers success without queueing it
// twice; a different request under that ID is still ErrDuplicateID.
func TestAdd_IdenticalReplayAnswersSuccessAndADifferentRequestIsADuplicate(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		meta := manyMeta(20, 3) // map order differs between calls
		orig := func(opts ...RequestOption) *Request {
			return NewRequest(`{"prompt":"hi"}`, append([]RequestOption{WithID("r1"), WithEstimatedTokens(7),
				WithMeta(meta), WithMaxRetries(2), WithTimeout(time.Minute)}, opts...)...)
		}
		id, err := qm.Add(ctx, orig())
		require.NoError(t, err)
		require.Equal(t, "r1", id)

		id, err = qm.Add(ctx, orig())
		require.NoError(t, err, "an identical replay of a queued request")
		assert.Equal(t, "r1", id)
		assert.EqualValues(t, 1, queuedCount(t, qm), "queued once")

		different := map[string]*Request{
			"payload":  NewRequest(`{"prompt":"bye"}`, WithID("r1"), WithEstimatedTokens(7), WithMeta(meta), WithMaxRetries(2), WithTimeout(time.Minute)),
			"estimate": orig(WithEstimatedTokens(8)),
			"retries":  orig(WithMaxRetries(3)),
			"timeout":  orig(WithTimeout(time.Hour)),
			"meta":     orig(WithMeta(map[string]any{"extra": 1})),
		}
		for name, r := range different {
			_, err := qm.Add(ctx, r)
			assert.ErrorIs(t, err, ErrDuplicateID, "different %s under the same id", name)
		}

		// Once leased (the compact form turned into the request hash), a
		// replay still answers success, and still refuses a different one.
		rec := newRecorder(0)
		startProcessor(t, newManager(t, s, nil), rec, nil)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := qm.Wait(wctx, "r1")
		require.NoError(t, err)
		require.Equal(t, StatusCompleted, st.Status)
		_, err = qm.Add(ctx, orig())
		require.NoError(t, err, "an identical replay of a completed request")
		_, err = qm.Add(ctx, different["payload"])
		assert.ErrorIs(t, err, ErrDuplicateID)
		time.Sleep(100 * time.Millisecond)
		assert.Equal(t, 1, rec.count(), "the request ran once")

		// AddMany: a batch that repeats an added request adds the rest; one
		// that conflicts adds nothing.
		ids, err := qm.AddMany(ctx, []*Request{orig(), NewRequest(`{}`, WithID("r2"))})
		require.NoError(t, err)
		assert.Equal(t, []string{"r1", "r2"}, ids)
		_, err = qm.AddMany(ctx, []*Request{NewRequest(`{}`, WithID("r3")), different["retries"]})
		require.ErrorIs(t, err, ErrDuplicateID)
		_, err = qm.Status(ctx, "r3")
		assert.ErrorIs(t, err, ErrNotFound, "a refused batch adds nothing")
	})
}

// TestAdd_ResentAfterALostReplyAnswersSuccess is issue 9 item 7: after a
// read timeout go-redis sends the add script again; the first send had
// stored the request, and the second must answer success, not
// ErrDuplicateID.
func TestAdd_ResentAfterALostReplyAnswersSuccess(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm, proxy := lossyManager(t, s, 3)
		for _, r := range []*Request{NewRequest(`{"a":1}`, WithID("given")), NewRequest(`{"a":2}`)} {
			proxy.DropNext(1)
			id, err := qm.Add(ctx, r)
			require.NoError(t, err)
			require.NotEmpty(t, id)
			st, err := qm.Status(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, StatusQueued, st.Status)
		}
		assert.EqualValues(t, 3, queuedCount(t, qm), "warm-up and two requests, each queued once")
	})
}

// TestAdd_UnansweredAddReportsUnknownOutcomeWithItsID is issue 9 item 7:
// when the add script ran but its answer never came, Add says the outcome
// is unknown (not "not added"), names the ID, and matches ErrUnavailable;
// adding the same request again under that ID then answers success without
// a second copy.
func TestAdd_UnansweredAddReportsUnknownOutcomeWithItsID(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm, proxy := lossyManager(t, s, -1)
		direct := newManager(t, s, nil)

		proxy.DropAll(true)
		_, err := qm.Add(ctx, NewRequest(`{"n":1}`, WithEstimatedTokens(3)))
		var unknown *AddOutcomeUnknownError
		require.True(t, errors.As(err, &unknown), "want *AddOutcomeUnknownError, got %v", err)
		assert.ErrorIs(t, err, ErrUnavailable)
		assert.NotErrorIs(t, err, ErrDuplicateID)
		require.NotEmpty(t, unknown.ID)
		assert.Equal(t, []string{unknown.ID}, unknown.IDs)
		assert.Contains(t, err.Error(), unknown.ID)
		assert.Contains(t, err.Error(), "outcome unknown")

		single := unknown.ID

		// The batch goes out on a new connection whose handshake gets no
		// answer either: it may not have been sent at all, and Add cannot
		// tell. Adding it again settles it either way.
		_, err = qm.AddMany(ctx, []*Request{NewRequest(`{"n":2}`, WithID("m1")), NewRequest(`{"n":3}`)})
		require.True(t, errors.As(err, &unknown), "want *AddOutcomeUnknownError, got %v", err)
		require.Len(t, unknown.IDs, 2)
		assert.Equal(t, "m1", unknown.IDs[0])
		proxy.DropAll(false)

		st, err := direct.Status(ctx, single)
		require.NoError(t, err, "the unanswered Add was stored")
		assert.Equal(t, StatusQueued, st.Status)
		_, err = qm.Add(ctx, NewRequest(`{"n":1}`, WithEstimatedTokens(3), WithID(single)))
		require.NoError(t, err, "adding the same request again")
		ids, err := qm.AddMany(ctx, []*Request{NewRequest(`{"n":2}`, WithID("m1")), NewRequest(`{"n":3}`, WithID(unknown.IDs[1]))})
		require.NoError(t, err, "adding the same batch again")
		assert.Equal(t, unknown.IDs, ids)
		assert.EqualValues(t, 4, queuedCount(t, direct), "warm-up, the single add and the batch of two, once each")
	})
}

// TestAdd_CanceledContextBeforeSendIsNotUnknown checks that an Add whose
// context ended before anything was sent says so plainly: nothing was
// stored, so the outcome is known.
func TestAdd_CanceledContextBeforeSendIsNotUnknown(t *testing.T) {
	qm := newManager(t, redistest.StartMini(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := qm.Add(ctx, NewRequest(`{}`, WithID("c1")))
	require.ErrorIs(t, err, context.Canceled)
	var unknown *AddOutcomeUnknownError
	assert.False(t, errors.As(err, &unknown))
	_, err = qm.Status(context.Background(), "c1")
	assert.ErrorIs(t, err, ErrNotFound)
}
