package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
)

// measureBaselines measures plain go-redis SET round trips, each to a new
// key with a value of the payload's size, from 1, -goroutines and
// -concurrency goroutines. Every other rate is compared with these. It
// runs twice, first and last; the baseline is the mean of both, so a
// machine whose speed drifts during the run skews the ratios less, and
// the note shows the drift.
func (b *bench) measureBaselines(ctx context.Context, last bool) error {
	for _, n := range baselineCounts(b.cfg) {
		rate, err := b.measureSET(ctx, n)
		if err != nil {
			return err
		}
		if !last {
			b.baseFirst[n] = rate
			b.base[n] = rate
			b.baseRow[n] = len(b.report.Rows)
			b.addRow(row{
				Name:  fmt.Sprintf("Baseline: go-redis SET, %d goroutine%s", n, plural(n)),
				Value: rate, Unit: "ops/s", Figure: fmtRate(rate, "ops/s"),
				Ratio: 1, RatioOf: "baseline", Kind: "baseline",
				Note: fmt.Sprintf("distinct keys, %d-byte values", b.cfg.payload),
			})
			continue
		}
		mean := (b.baseFirst[n] + rate) / 2
		b.base[n] = mean
		r := &b.report.Rows[b.baseRow[n]]
		r.Value, r.Figure = mean, fmtRate(mean, "ops/s")
		r.Note = fmt.Sprintf("distinct keys, %d-byte values; mean of the first (%s) and the last (%s) run",
			b.cfg.payload, fmtRate(b.baseFirst[n], "ops/s"), fmtRate(rate, "ops/s"))
	}
	return nil
}

// baselineCounts lists the goroutine counts that need a baseline, once
// each, in ascending order.
func baselineCounts(c *config) []int {
	out := []int{1, c.goroutines, c.concurrency}
	slices.Sort(out)
	return slices.Compact(out)
}

// measureSET returns SET round trips/s from n goroutines.
func (b *bench) measureSET(ctx context.Context, n int) (rate float64, err error) {
	s, err := b.begin(ctx, "set"+strconv.Itoa(n))
	if err != nil {
		return 0, err
	}
	defer s.end(ctx, &err)
	rdb := b.srv.client(n + 4)
	defer rdb.Close()
	value := makePayload(b.cfg.payload)
	prefix := "llmq:{" + s.ns + "}:set:"
	next := make([]int, n) // per goroutine, so no two SETs share a key
	rate, err = measureRate(ctx, n, b.cfg.warmup, b.cfg.duration, func(ctx context.Context, g int) (int, error) {
		next[g]++
		key := prefix + strconv.Itoa(g) + ":" + strconv.Itoa(next[g])
		if err := rdb.Set(ctx, key, []byte(value), 0).Err(); err != nil {
			return 0, fmt.Errorf("set: %w", err)
		}
		return 1, nil
	})
	return rate, err
}

// plural returns "s" unless n is 1.
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
