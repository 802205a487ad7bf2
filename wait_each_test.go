package llmqueue

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWaitAll_TwoHundredWithoutAGoroutineEach is issue 11 item 5: WaitAll
// on 200 requests shares the manager's one subscription and starts no
// goroutine per request, and every result is the request's own.
func TestWaitAll_TwoHundredWithoutAGoroutineEach(t *testing.T) {
	const n = 200
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		qm := newManager(t, s, nil)
		ids := addN(t, qm, n)
		// Start the shared subscriber first (it lives until Close), so
		// the count compares like with like.
		warm := addN(t, qm, 1)
		completeRaw(t, qm, warm, true, nil)
		_, err := qm.WaitAll(context.Background(), warm)
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond)
		before := runtime.NumGoroutine()

		type outcome struct {
			sts map[string]*RequestStatus
			err error
		}
		res := make(chan outcome, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			sts, err := qm.WaitAll(ctx, ids)
			res <- outcome{sts, err}
		}()
		waitFor(t, 5*time.Second, func() bool { return qm.waits.count() == n }, "the 200 registrations")
		time.Sleep(50 * time.Millisecond) // the subscriber settles
		during := runtime.NumGoroutine()
		t.Logf("goroutines: %d before WaitAll, %d while it waits on %d requests", before, during, n)
		assert.Less(t, during-before, 10, "WaitAll must not start a goroutine per request")

		echo := ProcessorFunc(func(_ context.Context, job *Job) (*Result, error) {
			return &Result{Output: job.Payload}, nil
		})
		startProcessor(t, qm, echo, &WorkerConfig{Concurrency: 16, PollInterval: 20 * time.Millisecond})
		r := <-res
		require.NoError(t, r.err)
		require.Len(t, r.sts, n)
		for i, id := range ids {
			st := r.sts[id]
			require.NotNil(t, st, id)
			assert.Equal(t, id, st.ID)
			assert.Equal(t, StatusCompleted, st.Status, id)
			assert.JSONEq(t, string(payload(t, map[string]int{"i": i})), string(st.Result), id)
		}
		assert.Zero(t, qm.waits.count(), "WaitAll unregisters every request")
	})
}

func TestWaitEach_YieldsTheFinishedFirstThenEachAsItFinishes(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, nil)
	ids := addN(t, qm, 4)
	completeRaw(t, qm, []string{ids[2], ids[0]}, true, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for st, err := range qm.WaitEach(ctx, []string{ids[0], ids[1], ids[2], ids[3], ids[0]}) {
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, st.Status)
		got = append(got, st.ID)
		switch len(got) {
		case 2:
			completeRaw(t, qm, ids[3:4], true, nil)
		case 3:
			completeRaw(t, qm, ids[1:2], true, nil)
		}
	}
	assert.Equal(t, []string{ids[0], ids[2], ids[3], ids[1]}, got, "finished ones in the order of ids, then as they finish; a repeat once")
	assert.Zero(t, qm.waits.count())
}

func TestWaitEach_Ends(t *testing.T) {
	cases := []struct {
		name string
		// run adds what the case needs and returns the IDs to wait on, a
		// context, and what to do once the first status is yielded.
		run      func(t *testing.T, qm *QueueManager) ([]string, context.Context)
		wantIDs  int
		wantErr  string
		wantIs   error
		breakOut bool
	}{
		{"no IDs yield nothing", func(t *testing.T, qm *QueueManager) ([]string, context.Context) {
			return nil, context.Background()
		}, 0, "", nil, false},
		{"an unknown ID fails with ErrNotFound", func(t *testing.T, qm *QueueManager) ([]string, context.Context) {
			return append(addN(t, qm, 1), "no-such-request"), context.Background()
		}, 0, "no-such-request", ErrNotFound, false},
		{"ctx ends: the finished stand, the rest are counted", func(t *testing.T, qm *QueueManager) ([]string, context.Context) {
			ids := addN(t, qm, 3)
			completeRaw(t, qm, ids[:1], true, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			t.Cleanup(cancel)
			return ids, ctx
		}, 1, "2 of 3 requests unfinished", context.DeadlineExceeded, false},
		{"Close ends it", func(t *testing.T, qm *QueueManager) ([]string, context.Context) {
			ids := addN(t, qm, 2)
			time.AfterFunc(100*time.Millisecond, func() { _ = qm.Close() })
			return ids, context.Background()
		}, 0, "2 of 2 requests unfinished: manager closed", nil, false},
		{"break stops waiting", func(t *testing.T, qm *QueueManager) ([]string, context.Context) {
			ids := addN(t, qm, 3)
			completeRaw(t, qm, ids[:1], true, nil)
			return ids, context.Background()
		}, 1, "", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			qm := newManager(t, redistest.StartMini(t), nil)
			ids, ctx := tc.run(t, qm)
			got, errs := 0, []error{}
			for st, err := range qm.WaitEach(ctx, ids) {
				if err != nil {
					errs = append(errs, err)
					continue // the sequence must end by itself after an error
				}
				got++
				assert.Equal(t, StatusCompleted, st.Status)
				if tc.breakOut {
					break
				}
			}
			assert.Equal(t, tc.wantIDs, got, "statuses yielded")
			if tc.wantErr == "" {
				assert.Empty(t, errs)
			} else {
				require.Len(t, errs, 1, "one error, then the end")
				assert.ErrorContains(t, errs[0], tc.wantErr)
				if tc.wantIs != nil {
					assert.ErrorIs(t, errs[0], tc.wantIs)
				}
			}
			assert.Zero(t, qm.waits.count(), "nothing stays registered")
		})
	}
}

func TestWaitAll_ReturnsWhatFinishedWithTheError(t *testing.T) {
	qm := newManager(t, redistest.StartMini(t), nil)
	ids := addN(t, qm, 2)
	completeRaw(t, qm, ids[1:], true, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	sts, err := qm.WaitAll(ctx, ids)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, sts, 1)
	assert.Equal(t, json.RawMessage(`{"ok":true}`), sts[ids[1]].Result)
}
