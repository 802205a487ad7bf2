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

func TestInspector_ListsEveryIndexedStateByCursor(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		in := qm.Inspector()

		// Two dead, one running, then 5 low + 2 long queued behind a pause.
		var dead []string
		for range 2 {
			id, err := qm.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1), WithMaxRetries(0)))
			require.NoError(t, err)
			dead = append(dead, id)
		}
		g := newGated()
		fails := ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
			if job.Payload[1] == '}' { // the two `{}` requests die
				return nil, Permanent(errors.New("no"))
			}
			return g.Process(ctx, job)
		})
		startProcessor(t, qm, fails, &WorkerConfig{Concurrency: 1, PollInterval: 20 * time.Millisecond, WorkerID: "w-1"})
		waitFor(t, 5*time.Second, func() bool {
			c, err := in.Counts(ctx)
			return err == nil && c.Dead == 2
		}, "two dead")
		running, err := qm.Add(ctx, NewRequest(`{"run":1}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		waitFor(t, 5*time.Second, func() bool { return g.started.Load() == 1 }, "one running")
		require.NoError(t, qm.PauseProcessing(ctx))
		addClass(t, qm, 5, 10)
		addClass(t, qm, 2, 90_000)

		c, err := in.Counts(ctx)
		require.NoError(t, err)
		assert.Equal(t, QueueCounts{Queued: map[Priority]int64{PriorityLow: 5, PriorityMedium: 0, PriorityLong: 2},
			Active: 1, Dead: 2}, c)

		// Queued, three at a time across the classes.
		var all []string
		cursor := ""
		for {
			p, err := in.List(ctx, StatusQueued, cursor, 3)
			require.NoError(t, err)
			all = append(all, p.IDs...)
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		assert.Len(t, all, 7)
		st, err := qm.Status(ctx, all[6])
		require.NoError(t, err)
		assert.Equal(t, PriorityLong, st.Priority, "long comes after low")

		p, err := in.List(ctx, StatusActive, "", 10)
		require.NoError(t, err)
		assert.Equal(t, []string{running}, p.IDs)
		p, err = in.List(ctx, StatusDead, "", 1)
		require.NoError(t, err)
		require.Len(t, p.IDs, 1)
		require.NotEmpty(t, p.Next)
		p2, err := in.List(ctx, StatusDead, p.Next, 1)
		require.NoError(t, err)
		assert.ElementsMatch(t, dead, append(p.IDs, p2.IDs...))

		for _, bad := range []struct {
			state  Status
			cursor string
			limit  int
			want   error
		}{
			{StatusCompleted, "", 10, ErrNotIndexed},
			{StatusCanceled, "", 10, ErrNotIndexed},
			{"lost", "", 10, ErrInvalidRequest},
			{StatusDead, "x", 10, ErrInvalidRequest},
			{StatusQueued, "urgent:3", 10, ErrInvalidRequest},
			{StatusDead, "", 0, ErrInvalidRequest},
			{StatusDead, "", 1001, ErrInvalidRequest},
		} {
			_, err := in.List(ctx, bad.state, bad.cursor, bad.limit)
			assert.ErrorIs(t, err, bad.want, "%s %q %d", bad.state, bad.cursor, bad.limit)
		}

		ws, err := in.Workers(ctx)
		require.NoError(t, err)
		require.Len(t, ws, 1)
		assert.Equal(t, "w-1", ws[0].ID)

		n, err := in.RequeueDead(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		c, err = in.Counts(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 0, c.Dead)
		assert.EqualValues(t, 7, c.Queued[PriorityLow], "the two requeued join the five")
		close(g.release)
	})
}
