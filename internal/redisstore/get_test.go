package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

// TestGet_NeverMissesARequestBeingLeased reads requests while another
// client leases them: the lease script turns the compact queued form into a
// hash, and a reader that looked at the hash before and at the compact form
// after that script used to answer "not found" for a live request.
func TestGet_NeverMissesARequestBeingLeased(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		st := New(s.Client(t), "get")
		reader := New(s.Client(t), "get")
		const n = 1000
		reqs := make([]NewRequest, n)
		for i := range reqs {
			reqs[i] = NewRequest{ID: fmt.Sprintf("r%04d", i), Priority: "low", Tokens: 1, MaxRetries: 1,
				TimeoutMS: 60_000, Payload: []byte(`{}`)}
		}
		require.NoError(t, st.Add(ctx, reqs))

		// The readers aim at the request the leaser takes next.
		var leased atomic.Int64
		var missing atomic.Int64
		var wg sync.WaitGroup
		wg.Go(func() {
			for leased.Load() < n {
				res, err := st.Lease(ctx, LeaseArgs{Max: 1, Lease: time.Minute, Window: time.Minute, Cycle: [3]int{3, 2, 1}})
				if err != nil || len(res.Jobs) == 0 {
					leased.Store(n)
					return
				}
				leased.Add(int64(len(res.Jobs)))
			}
		})
		for range 4 {
			wg.Go(func() {
				for i := leased.Load(); i < n; i = leased.Load() {
					if _, err := reader.Get(ctx, reqs[i].ID); errors.Is(err, ErrNotFound) {
						missing.Add(1)
					}
				}
			})
		}
		wg.Wait()
		require.Zero(t, missing.Load(), "live requests reported as not found")
	})
}
