package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/llmqueue/llmqueue"
)

// latencies collects, per started request, the time from the start of
// its Add call and from its lease (job.LeasedAt) to the processor's start.
type latencies struct {
	mu          sync.Mutex
	addedAt     []time.Time // when each Add call started
	fromAdd     []time.Duration
	fromLease   []time.Duration
	decodeError error
}

// count returns how many requests have started.
func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.fromAdd)
}

// process is the no-op processor that records the latencies. The Add
// call's start time travels in the request's meta as Unix nanoseconds.
func (l *latencies) process(_ context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	now := time.Now()
	addNanos, err := strconv.ParseInt(string(job.Meta["t"]), 10, 64)
	l.mu.Lock()
	if err != nil && l.decodeError == nil {
		l.decodeError = fmt.Errorf("request %s: meta t %q: %w", job.ID, job.Meta["t"], err)
	}
	l.addedAt = append(l.addedAt, time.Unix(0, addNanos))
	l.fromAdd = append(l.fromAdd, now.Sub(time.Unix(0, addNanos)))
	l.fromLease = append(l.fromLease, now.Sub(job.LeasedAt))
	l.mu.Unlock()
	return &llmqueue.Result{Usage: llmqueue.Usage{InputTokens: job.EstimatedTokens}}, nil
}

// steadyAfter is how long the first requests may wait for the idle
// processor's back-off before the steady state is reported on its own.
const steadyAfter = 500 * time.Millisecond

// steady describes the latencies of requests added from t on, once the
// processor polls at its shortest idle interval again.
func (l *latencies) steady(t time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var d []time.Duration
	for i, at := range l.addedAt {
		if !at.Before(t) {
			d = append(d, l.fromAdd[i])
		}
	}
	all := sortedCopy(l.fromAdd)
	head := fmt.Sprintf("the first requests wait out the idle back-off (sleeps doubling from 10 ms "+
		"to the 1 s poll interval; max %s)", fmtDuration(all[len(all)-1]))
	if len(d) < 100 {
		return head
	}
	d = sortedCopy(d)
	return fmt.Sprintf("%s; from %s on: p50 %s / p99 %s", head, steadyAfter,
		fmtDuration(percentile(d, 0.5)), fmtDuration(percentile(d, 0.99)))
}

// measureLatency adds requests at a steady -latency-rate to an empty
// queue whose processor is idle-waiting, and reports how long each took
// from the start of its Add call to the start of its processing.
func (b *bench) measureLatency(ctx context.Context) (err error) {
	s, err := b.begin(ctx, "latency")
	if err != nil {
		return err
	}
	defer s.end(ctx, &err)
	qm, rdb, err := s.manager(4, notBinding)
	if err != nil {
		return err
	}
	defer rdb.Close()
	lat := &latencies{}
	f, err := s.startFleet(ctx, 1, notBinding, lat.process)
	if err != nil {
		return err
	}
	defer func() {
		if serr := f.stop(); err == nil {
			err = serr
		}
	}()
	sleepCtx(ctx, b.cfg.warmup) // let the processor settle into idle polling

	payload := makePayload(b.cfg.payload)
	tick := time.NewTicker(time.Second / time.Duration(b.cfg.latencyRate))
	defer tick.Stop()
	firstAdd := time.Now()
	end := firstAdd.Add(b.cfg.duration)
	added := 0
	for time.Now().Before(end) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			start := time.Now()
			req := llmqueue.NewRequest(payload, llmqueue.WithMeta(map[string]any{"t": start.UnixNano()}))
			if _, err := qm.Add(ctx, req); err != nil {
				return err
			}
			added++
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for lat.count() < added && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepCtx(ctx, 10*time.Millisecond)
	}
	if got := lat.count(); got < added {
		return fmt.Errorf("only %d of %d requests started within 10s", got, added)
	}
	if lat.decodeError != nil {
		return lat.decodeError
	}

	rateNote := fmt.Sprintf("%d requests at %d/s to a processor idle-waiting with default options; %s",
		added, b.cfg.latencyRate, lat.steady(firstAdd.Add(steadyAfter)))
	for _, m := range []struct {
		name string
		d    []time.Duration
		note string
	}{
		{"Lease latency, Add -> processor start", lat.fromAdd, rateNote},
		{"Lease latency, lease -> processor start", lat.fromLease,
			"processor's time.Now() - job.LeasedAt (Redis TIME, whole ms, so up to 1 ms high)"},
	} {
		d := sortedCopy(m.d)
		p50, p99 := percentile(d, 0.50), percentile(d, 0.99)
		b.addRow(row{
			Name:  m.name + ", p50 / p99",
			Value: p50.Seconds() * 1000, Value2: p99.Seconds() * 1000, Unit: "ms",
			Figure: fmtDuration(p50) + " / " + fmtDuration(p99),
			BaseN:  1,
			Note:   m.note,
		})
	}
	return nil
}
