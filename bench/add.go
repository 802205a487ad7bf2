package main

import (
	"context"
	"fmt"

	"github.com/llmqueue/llmqueue"
)

// addManyBatch is the batch size of the AddMany row.
const addManyBatch = 100

// measureAdd measures Add round trips from one goroutine and from
// -goroutines goroutines. Requests carry no estimate, so the default
// estimator runs on each, as it does for most callers.
func (b *bench) measureAdd(ctx context.Context) error {
	for _, n := range []int{1, b.cfg.goroutines} {
		rate, err := b.addRate(ctx, fmt.Sprintf("add%d", n), n, 1)
		if err != nil {
			return err
		}
		b.addRow(row{
			Name:  fmt.Sprintf("Add, %d goroutine%s", n, plural(n)),
			Value: rate, Unit: "requests/s", Figure: fmtRate(rate, "req/s"),
			BaseN: n,
		})
	}
	return nil
}

// measureAddMany measures AddMany in batches of 100 from -goroutines.
func (b *bench) measureAddMany(ctx context.Context) error {
	n := b.cfg.goroutines
	rate, err := b.addRate(ctx, "addmany", n, addManyBatch)
	if err != nil {
		return err
	}
	b.addRow(row{
		Name:  fmt.Sprintf("AddMany, batches of %d, %d goroutine%s", addManyBatch, n, plural(n)),
		Value: rate, Unit: "requests/s", Figure: fmtRate(rate, "req/s"),
		BaseN: n, Target: ">= 100% of SET", minRatio: 1,
	})
	return nil
}

// addRate measures requests/s queued by n goroutines, each calling
// AddMany with batch requests (Add when batch is 1).
func (b *bench) addRate(ctx context.Context, name string, n, batch int) (rate float64, err error) {
	s, err := b.begin(ctx, name)
	if err != nil {
		return 0, err
	}
	defer s.end(ctx, &err)
	qm, rdb, err := s.manager(n+4, llmqueue.Budget{})
	if err != nil {
		return 0, err
	}
	defer rdb.Close()
	payload := makePayload(b.cfg.payload)
	rate, err = measureRate(ctx, n, b.cfg.warmup, b.cfg.duration, func(ctx context.Context, _ int) (int, error) {
		if batch == 1 {
			if _, err := qm.Add(ctx, llmqueue.NewRequest(payload)); err != nil {
				return 0, err
			}
			return 1, nil
		}
		reqs := make([]*llmqueue.Request, batch)
		for i := range reqs {
			reqs[i] = llmqueue.NewRequest(payload)
		}
		if _, err := qm.AddMany(ctx, reqs); err != nil {
			return 0, err
		}
		return batch, nil
	})
	if err != nil {
		return 0, err
	}
	return rate, nil
}

// setName names the SET baseline of n goroutines.
func setName(n int) string { return fmt.Sprintf("SET x%d", n) }

// boolPtr returns a pointer to v, for row.Met.
func boolPtr(v bool) *bool { return &v }
