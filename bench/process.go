package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/redis/go-redis/v9"
)

// notBinding is a budget that is on (every lease reserves tokens in the
// ledger) but never short.
var notBinding = llmqueue.Budget{TPM: 1e12}

// noop is the processor of the rate rows: it does nothing and reports
// the estimate as the usage, so the ledger is reconciled without change.
func noop(_ context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	return &llmqueue.Result{Usage: llmqueue.Usage{InputTokens: job.EstimatedTokens}}, nil
}

// fleet is k BatchProcessors on one namespace, each on its own client as
// if in its own process.
type fleet struct {
	procs   []*llmqueue.BatchProcessor
	clients []*redis.Client
}

// startFleet starts k processors running proc at -concurrency, calling
// hooks after every attempt.
func (s *scope) startFleet(ctx context.Context, k int, budget llmqueue.Budget, proc llmqueue.ProcessorFunc,
	hooks ...func(llmqueue.AttemptEvent)) (*fleet, error) {
	f := &fleet{}
	for range k {
		qm, rdb, err := s.manager(s.b.cfg.concurrency+16, budget)
		if err != nil {
			_ = f.stop()
			return nil, err
		}
		f.clients = append(f.clients, rdb)
		bp, err := llmqueue.NewBatchProcessor(qm, proc,
			&llmqueue.WorkerConfig{Concurrency: s.b.cfg.concurrency, AttemptHooks: hooks})
		if err != nil {
			_ = f.stop()
			return nil, fmt.Errorf("batch processor: %w", err)
		}
		if err := bp.Start(ctx); err != nil {
			_ = f.stop()
			return nil, fmt.Errorf("start processor: %w", err)
		}
		f.procs = append(f.procs, bp)
	}
	return f, nil
}

// stop shuts the processors down and closes their clients.
func (f *fleet) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, bp := range f.procs {
		if err := bp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	for _, c := range f.clients {
		_ = c.Close()
	}
	return errors.Join(errs...)
}

// observer reads Metrics of a scope's namespace through the admin client.
func (s *scope) observer(budget llmqueue.Budget) (*llmqueue.QueueManager, error) {
	qm, err := llmqueue.NewQueueManager(s.b.admin, &llmqueue.Config{Namespace: s.ns, Budget: budget})
	if err != nil {
		return nil, fmt.Errorf("queue manager: %w", err)
	}
	return qm, nil
}

// measureCompletions lets the fleet warm up, then measures the completion
// rate over the configured duration with the command statistics narrowed
// to that span; it also returns the queue depth at the end.
func (s *scope) measureCompletions(ctx context.Context, obs *llmqueue.QueueManager) (rate float64, left int64, err error) {
	sleepCtx(ctx, s.b.cfg.warmup)
	if err = s.mark(ctx, false); err == nil {
		rate, left, err = completionRate(ctx, obs, s.b.cfg.duration)
	}
	if merr := s.mark(ctx, true); err == nil {
		err = merr
	}
	return rate, left, err
}

// completionRate reads Metrics, waits d, reads them again and returns
// completions per second between the two, and the queue depth at the end.
func completionRate(ctx context.Context, obs *llmqueue.QueueManager, d time.Duration) (rate float64, left int64, err error) {
	m0, t0, err := snapshot(ctx, obs)
	if err != nil {
		return 0, 0, err
	}
	sleepCtx(ctx, d)
	m1, t1, err := snapshot(ctx, obs)
	if err != nil {
		return 0, 0, err
	}
	if failed := m1.TotalFailed - m0.TotalFailed; failed > 0 {
		return 0, 0, fmt.Errorf("%d requests failed during the measurement", failed)
	}
	return float64(m1.TotalCompleted-m0.TotalCompleted) / t1.Sub(t0).Seconds(), m1.TotalInQueue, nil
}

// snapshot reads Metrics and stamps them with the middle of the call.
func snapshot(ctx context.Context, obs *llmqueue.QueueManager) (*llmqueue.Metrics, time.Time, error) {
	before := time.Now()
	m, err := obs.Metrics(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	return m, before.Add(time.Since(before) / 2), nil
}

// measureProcessing measures completions/s of a no-op processor with the
// budget on but not binding, from a backlog queued beforehand: with one
// processor, then with two on separate clients.
func (b *bench) measureProcessing(ctx context.Context) error {
	best := 0.0
	var bestRow int
	for _, k := range []int{1, 2} {
		rate, err := b.processingRate(ctx, k)
		if err != nil {
			return err
		}
		b.addRow(row{
			Name:  fmt.Sprintf("Processing, no-op, budget on, %d processor%s x %d", k, plural(k), b.cfg.concurrency),
			Value: rate, Unit: "completions/s", Figure: fmtRate(rate, "req/s"),
			BaseN: b.cfg.concurrency,
			Note: fmt.Sprintf("%d BatchProcessor%s with WithConcurrency(%d), each on its own client; "+
				"backlog queued beforehand", k, plural(k), b.cfg.concurrency),
		})
		if rate > best {
			best, bestRow = rate, len(b.report.Rows)-1
		}
	}
	r := &b.report.Rows[bestRow]
	r.Target, r.minRatio = ">= 20% of SET", 0.20
	r.Note += " (the faster setup: judged against the target)"
	return nil
}

// processingRate measures one processing row with k processors.
func (b *bench) processingRate(ctx context.Context, k int) (rate float64, err error) {
	s, err := b.begin(ctx, fmt.Sprintf("proc%d", k))
	if err != nil {
		return 0, err
	}
	defer s.end(ctx, &err)
	qm, rdb, err := s.manager(b.cfg.fillWorkers+2, notBinding)
	if err != nil {
		return 0, err
	}
	defer rdb.Close()
	// Enough backlog for the warm-up and the measurement at well above the
	// rate a queue can reach; the end snapshot proves it never ran dry.
	need := int(b.base[b.cfg.concurrency] * 0.6 * (b.cfg.warmup + b.cfg.duration).Seconds())
	need = max(need, 10_000)
	fl := filler{qm: qm, payload: makePayload(b.cfg.payload), batch: b.cfg.fillBatch, workers: b.cfg.fillWorkers}
	if err := fl.fill(ctx, need); err != nil {
		return 0, err
	}
	obs, err := s.observer(notBinding)
	if err != nil {
		return 0, err
	}
	f, err := s.startFleet(ctx, k, notBinding, noop)
	if err != nil {
		return 0, err
	}
	rate, left, err := s.measureCompletions(ctx, obs)
	if serr := f.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return 0, err
	}
	if left == 0 {
		return 0, fmt.Errorf("the backlog of %d ran dry during the measurement; the rate is only a lower bound", need)
	}
	return rate, nil
}
