package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmqueue/llmqueue"
)

// measureDepth compares the lease rate of one no-op processor with 1,000
// and with -big requests queued. During each measurement a topper queues
// as many requests as were completed, so the depth holds; both rows carry
// the same topping load, so the depth is the only difference. The small
// depth is measured before and after the big one and averaged, so a
// machine that slows down or speeds up during the run (other work, CPU
// boost) does not pass for an effect of depth.
func (b *bench) measureDepth(ctx context.Context) error {
	small1, _, err := b.depthRate(ctx, b.cfg.small)
	if err != nil {
		return err
	}
	big, fillTime, err := b.depthRate(ctx, b.cfg.big)
	if err != nil {
		return err
	}
	small2, _, err := b.depthRate(ctx, b.cfg.small)
	if err != nil {
		return err
	}
	small := (small1 + small2) / 2
	b.addRow(row{
		Name:  fmt.Sprintf("Lease rate, %s queued", fmtCount(b.cfg.small)),
		Value: small, Unit: "completions/s", Figure: fmtRate(small, "req/s"),
		BaseN: b.cfg.concurrency,
		Note: fmt.Sprintf("1 processor x %d, no-op, budget on; depth held by topping up; "+
			"mean of runs before (%s) and after (%s) the deep one",
			b.cfg.concurrency, fmtRate(small1, "req/s"), fmtRate(small2, "req/s")),
	})
	r := ratio(big, small)
	b.addRow(row{
		Name:  fmt.Sprintf("Lease rate, %s queued", fmtCount(b.cfg.big)),
		Value: big, Unit: "completions/s", Figure: fmtRate(big, "req/s"),
		Ratio: r, RatioOf: fmtCount(b.cfg.small) + "-queued row",
		Target: ">= 80% of the 1,000 row", Met: boolPtr(r >= 0.8),
		Note: fmt.Sprintf("as above; queued beforehand with AddMany (batches of %d, %d goroutines) in %s",
			b.cfg.fillBatch, b.cfg.fillWorkers, fillTime.Round(100*time.Millisecond)),
	})
	return nil
}

// depthRate fills a namespace with depth requests and measures the
// completions/s of one no-op processor while the depth is held. It also
// returns how long the fill took.
func (b *bench) depthRate(ctx context.Context, depth int) (rate float64, fillTime time.Duration, err error) {
	s, err := b.begin(ctx, fmt.Sprintf("depth%d", depth))
	if err != nil {
		return 0, 0, err
	}
	defer s.end(ctx, &err)
	qm, rdb, err := s.manager(b.cfg.fillWorkers+2, notBinding)
	if err != nil {
		return 0, 0, err
	}
	defer rdb.Close()
	fl := filler{qm: qm, payload: makePayload(b.cfg.payload), batch: b.cfg.fillBatch, workers: b.cfg.fillWorkers}
	t := time.Now()
	if err := fl.fill(ctx, depth); err != nil {
		return 0, 0, err
	}
	fillTime = time.Since(t)
	b.progress("queued %s in %s", fmtCount(depth), fillTime.Round(10*time.Millisecond))
	obs, err := s.observer(notBinding)
	if err != nil {
		return 0, 0, err
	}

	var completed atomic.Int64
	hook := func(ev llmqueue.AttemptEvent) {
		if ev.Status == llmqueue.StatusCompleted {
			completed.Add(1)
		}
	}
	f, err := s.startFleet(ctx, 1, notBinding, noop, hook)
	if err != nil {
		return 0, 0, err
	}
	topCtx, stopTop := context.WithCancel(ctx)
	var topErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		topErr = topUp(topCtx, fl, &completed)
	}()
	rate, left, err := s.measureCompletions(ctx, obs)
	stopTop()
	wg.Wait()
	if serr := f.stop(); err == nil {
		err = serr
	}
	if err == nil {
		err = topErr
	}
	if err != nil {
		return 0, 0, err
	}
	if left < int64(depth)/2 {
		return 0, 0, fmt.Errorf("depth fell to %d of %d: the topper could not keep up", left, depth)
	}
	return rate, fillTime, nil
}

// topUp queues one request for each completed one, in batches of up to
// the fill batch, until ctx ends.
func topUp(ctx context.Context, fl filler, completed *atomic.Int64) error {
	var added int64
	reqs := make([]*llmqueue.Request, 0, fl.batch)
	for ctx.Err() == nil {
		deficit := completed.Load() - added
		if deficit < 50 {
			sleepCtx(ctx, 2*time.Millisecond)
			continue
		}
		n := min(deficit, int64(fl.batch))
		reqs = reqs[:0]
		for range n {
			reqs = append(reqs, fl.request())
		}
		if _, err := fl.qm.AddMany(ctx, reqs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("top up: %w", err)
		}
		added += n
	}
	return nil
}
