package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmqueue/llmqueue"
)

// opFunc does one unit of a rate measurement on goroutine g and returns
// how many items it handled (1 for a round trip, 100 for a batch).
type opFunc func(ctx context.Context, g int) (int, error)

// measureRate runs op in a loop on n goroutines, discards the first
// warmup, counts items over d and returns items per second. The first
// error ends the run and is returned; errors after the end are not.
func measureRate(ctx context.Context, n int, warmup, d time.Duration, op opFunc) (float64, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		count    atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				k, err := op(runCtx, g)
				if err != nil {
					if runCtx.Err() == nil {
						errOnce.Do(func() { firstErr = err; cancel() })
					}
					return
				}
				count.Add(int64(k))
			}
		}()
	}
	sleepCtx(runCtx, warmup)
	c0, t0 := count.Load(), time.Now()
	sleepCtx(runCtx, d)
	c1, t1 := count.Load(), time.Now()
	cancel()
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return float64(c1-c0) / t1.Sub(t0).Seconds(), nil
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// makePayload returns a JSON document of exactly n bytes (n >= 2): a chat
// request when there is room for one, else a JSON string.
func makePayload(n int) json.RawMessage {
	const head, tail = `{"messages":[{"role":"user","content":"`, `"}]}`
	if n >= len(head)+len(tail) {
		return json.RawMessage(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	return json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`)
}

// filler queues requests in AddMany batches from several goroutines, the
// fastest way to build a backlog.
type filler struct {
	qm      *llmqueue.QueueManager
	payload json.RawMessage
	tokens  int64 // the estimate each request carries; 0 asks the estimator
	batch   int
	workers int
}

// request builds one request to queue.
func (f filler) request() *llmqueue.Request {
	if f.tokens > 0 {
		return llmqueue.NewRequest(f.payload, llmqueue.WithEstimatedTokens(f.tokens))
	}
	return llmqueue.NewRequest(f.payload)
}

// fill queues n requests.
func (f filler) fill(ctx context.Context, n int) error {
	var next atomic.Int64
	errs := make(chan error, f.workers)
	var wg sync.WaitGroup
	for range f.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reqs := make([]*llmqueue.Request, 0, f.batch)
			for {
				end := next.Add(int64(f.batch))
				start := end - int64(f.batch)
				if start >= int64(n) || ctx.Err() != nil {
					return
				}
				reqs = reqs[:0]
				for range min(end, int64(n)) - start {
					reqs = append(reqs, f.request())
				}
				if _, err := f.qm.AddMany(ctx, reqs); err != nil {
					errs <- fmt.Errorf("fill: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// percentile returns the q-quantile (0 < q <= 1) of sorted durations by
// the nearest-rank method.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// sortedCopy returns the durations in ascending order.
func sortedCopy(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}
