package llmqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// BatchProcessor leases requests from a namespace in the 3-2-1 cycle, within
// the shared budget, and runs them through a Processor. It is safe for
// concurrent use; Start it once and Shutdown it once.
type BatchProcessor struct {
	// How it works:
	//
	// Leasing follows the 3-2-1 cycle (3 low, 2 medium, 1 long by default);
	// the cycle's position lives in Redis, so the ratio holds across every
	// process of the namespace, and a class with nothing queued gives its
	// slot to the next. A request is leased only when the shared budget can
	// afford its estimate; when it cannot, the processor sleeps exactly as
	// long as the lease script says it takes for enough budget to free up
	// (see leaseLoop).
	//
	// Leases are kept alive by heartbeats; when a process dies, any other
	// recovers its requests after the lease expires (the attempt counts).
	// Failed attempts are retried with exponential backoff and jitter, and
	// die when retries are spent or the error is Permanent.

	qm    *QueueManager
	store *redisstore.Store
	proc  Processor
	cfg   batchConfig
	// The ledger this processor leases against: the manager's budget and
	// the namespace's ledger, or, under a Router, one Deployment's.
	budget  Budget
	meter   Meter  // nil: Config.Meter, the Processor's, the manager's
	deploy  string // the Deployment's name; "" for the namespace's ledger
	model   string // the Deployment's model, for prices
	spend   spendLimit
	mode    string   // the lease mode (redisstore.LeaseArgs.Mode)
	breaker *breaker // nil outside a Router with several deployments
	// instance is random per BatchProcessor: it tells this process's
	// registration and lease calls from another's under the same worker id.
	instance string

	mu       sync.Mutex
	running  map[string]*runningJob
	started  bool
	stopping bool

	slotFreed chan struct{}
	added     chan struct{} // Add published new work: wake an idle lease loop
	stopLease chan struct{}
	leaseDone chan struct{}
	hbDone    chan struct{}
	hbStop    chan struct{}
	jobs      sync.WaitGroup
	completer *completer

	st processorStats
}

type runningJob struct {
	token  string
	cancel context.CancelCauseFunc
	// giveUpAt is when the heartbeat stops extending the lease of a call
	// that ignores its context: its timeout plus one lease of grace.
	giveUpAt time.Time
	overdue  bool // logged as ignoring its context
}

// shutdownGrace is how long Shutdown waits, after its ctx ends and the
// running calls are canceled, for them to return and be handed back:
// long enough for a call that honours its context, short enough that
// Shutdown returns promptly when its ctx ends.
const shutdownGrace = 50 * time.Millisecond

var (
	errCanceledByUser = errors.New("llmqueue: request canceled")
	errLeaseLost      = errors.New("llmqueue: lease lost to another worker")
	errShutdown       = errors.New("llmqueue: processor shutting down")
)

// NewBatchProcessor returns a processor that runs proc on q's namespace; it
// does nothing until Start. A nil cfg takes every default.
func NewBatchProcessor(q *QueueManager, proc Processor, cfg *WorkerConfig) (*BatchProcessor, error) {
	if q == nil || proc == nil {
		return nil, errors.New("llmqueue: nil QueueManager or Processor")
	}
	c, err := newBatchConfig(q, cfg)
	if err != nil {
		return nil, err
	}
	b := &BatchProcessor{
		qm: q, store: q.store, proc: proc, cfg: c, instance: redisstore.RandomHex(6), budget: q.cfg.budget,
		running:   map[string]*runningJob{},
		slotFreed: make(chan struct{}, 1),
		added:     make(chan struct{}, 1),
		stopLease: make(chan struct{}),
		leaseDone: make(chan struct{}),
		hbDone:    make(chan struct{}),
		hbStop:    make(chan struct{}),
	}
	if b.cfg.chain, err = chainMiddleware(ProcessorFunc(b.attempt), c.middleware); err != nil {
		return nil, err
	}
	return b, nil
}

// WorkerID returns the name this process registers under.
func (b *BatchProcessor) WorkerID() string { return b.cfg.workerID }

// Start begins leasing and processing in background goroutines. ctx bounds
// the start-up only; stop the processor with Shutdown.
func (b *BatchProcessor) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return ErrAlreadyStarted
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.register(ctx); err != nil {
		return err
	}
	b.started = true
	b.st.startedAt.Store(time.Now().UnixMilli())
	b.st.processing.Store(true)
	b.completer = newCompleter(b)
	// Checked here, not in NewQueueManager: a constructor does no I/O, and
	// a worker, whose leasing an eviction stalls, is what runs for long
	// and has its log read. In the background, so Start never waits on
	// Redis.
	go b.qm.warnIfEvicting(context.Background(), b.cfg.logger)
	go b.leaseLoop()
	go b.heartbeatLoop()
	return nil
}

// Shutdown stops leasing and waits for the requests in flight until ctx
// ends, then hands the rest back to the queue without counting the attempt.
// It returns nil when all finished, else an error matching ctx.Err().
func (b *BatchProcessor) Shutdown(ctx context.Context) error {
	// When ctx ends the running calls are canceled and handed back for
	// another worker (their attempt is not counted). Shutdown returns
	// promptly: the canceled calls get shutdownGrace (50ms) to return, and a
	// processor that ignores the cancellation is left behind, to finish in
	// the background (its late outcome is recorded if its lease still
	// holds) or to have its lease expire, after which another worker runs
	// its request and that attempt counts. The error says how many requests
	// were handed back and how many of them were still running.
	b.mu.Lock()
	if !b.started || b.stopping {
		b.mu.Unlock()
		return ErrClosed
	}
	b.stopping = true
	b.mu.Unlock()
	close(b.stopLease)
	<-b.leaseDone

	done := make(chan struct{})
	go func() { b.jobs.Wait(); close(done) }()
	handedBack, stillRunning := 0, 0
	select {
	case <-done:
	case <-ctx.Done():
		b.mu.Lock()
		for _, r := range b.running {
			r.cancel(errShutdown)
			handedBack++
		}
		b.mu.Unlock()
		t := time.NewTimer(shutdownGrace)
		select {
		case <-done:
		case <-t.C:
			// A processor that ignores its context would hold Shutdown
			// past its ctx. Its lease expires once the heartbeat stops,
			// and another worker runs the request; an outcome that comes
			// after that is stale. inFlight is 0 when the last call was
			// acked since the timer fired: running is emptied after the
			// ack.
			stillRunning = b.inFlight()
			b.cfg.logger.Warn("llmqueue: processors ignored cancellation; shutdown returns without them",
				"running", stillRunning, "grace", shutdownGrace)
		}
		t.Stop()
	}
	if stillRunning > 0 {
		go func() { <-done; b.completer.close() }()
	} else {
		b.completer.close()
	}
	close(b.hbStop)
	<-b.hbDone
	b.st.processing.Store(false)
	b.deregister()
	switch {
	case stillRunning > 0:
		return fmt.Errorf("llmqueue: shutdown: %d requests handed back, %d of them still running (released when they return or their leases expire): %w",
			handedBack, stillRunning, ctx.Err())
	case handedBack > 0:
		return fmt.Errorf("llmqueue: shutdown: %d requests handed back: %w", handedBack, ctx.Err())
	}
	return nil
}

func (b *BatchProcessor) deregister() {
	ctx, cancel := context.WithTimeout(context.Background(), b.qm.cfg.opTimeout)
	defer cancel()
	_ = b.store.Deregister(ctx, b.cfg.workerID, b.instance) // the registry entry expires by itself if this fails
}

func (b *BatchProcessor) inFlight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running)
}

// leaseLoop is the only goroutine that leases, so one process never races
// itself for the cycle.
func (b *BatchProcessor) leaseLoop() {
	defer close(b.leaseDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-b.stopLease; cancel() }()

	idle := 10 * time.Millisecond
	outage := newOutageTracker(b.cfg.logger, "lease")
	// A call id makes a retried lease call idempotent: a retry after a
	// lost reply carries the same id and gets the lost call's leases. So
	// the id moves on only once a call has been answered, and it carries
	// this process's instance, so no other process can ever match it.
	var calls int64 = 1
	bud := b.budget
	for ctx.Err() == nil {
		free := b.cfg.concurrency - b.inFlight()
		if free <= 0 {
			b.sleep(ctx, b.cfg.maxBudgetWait, b.slotFreed)
			continue
		}
		sentAt := time.Now()
		res, err := b.store.Lease(ctx, redisstore.LeaseArgs{
			Max: min(free, b.cfg.leaseBatch), Lease: b.cfg.lease,
			Window: bud.ledgerWindow(),
			TPM:    bud.UsableTokens(), RPM: bud.UsableRequests(),
			ITPM: bud.UsableInputTokens(), OTPM: bud.UsableOutputTokens(),
			TPD: bud.UsableTokensPerDay(), RPD: bud.UsableRequestsPerDay(),
			Cycle: b.cfg.cycle, WorkerID: b.cfg.workerID, RetentionMS: b.qm.cfg.retention.Milliseconds(),
			CallID:            b.instance + "." + strconv.FormatInt(calls, 10),
			TokenNonce:        b.instance + "." + strconv.FormatInt(calls, 10),
			Mode:              b.mode,
			SpendLimitNanoUSD: b.spend.limitNano, InPriceNanoUSD: b.spend.inNano, OutPriceNanoUSD: b.spend.outNano,
			Deployment: b.deploy,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.st.consecutiveErrors.Add(1)
			b.sleep(ctx, outage.failed(err), nil)
			continue
		}
		calls++
		outage.ok()
		b.st.consecutiveErrors.Store(0)
		b.st.lastReason.Store(res.Reason)
		b.st.leased(res)
		b.logKilled(res.Killed)
		for _, h := range res.Jobs {
			b.startJob(h, sentAt)
		}
		if len(res.Jobs) > 0 {
			idle = 10 * time.Millisecond
			b.st.emptyCycles.Store(0)
		}
		switch {
		case res.Reason == "ok":
			// Leased all it asked for: ask again at once.
		case res.Reason == "paused":
			// Resume publishes on the Added channel: b.added wakes us.
			b.sleep(ctx, b.cfg.pollInterval, b.added)
		case res.Reason == "empty":
			if len(res.Jobs) == 0 {
				b.st.emptyCycles.Add(1)
				wait := idle
				if res.Wait > 0 && res.Wait < wait {
					wait = res.Wait
				}
				idle = min(idle*2, b.cfg.pollInterval)
				b.sleep(ctx, wait, b.added)
			}
		default: // tokens, requests, cooldown: the script said how long.
			b.st.budgetWaits.Add(1)
			b.sleep(ctx, min(max(res.Wait, time.Millisecond), b.cfg.maxBudgetWait), b.slotFreed)
		}
	}
}

// sleep waits for d, ctx, or a signal on wake: a finished request (it
// may free budget by reconciling, or free a slot) or new work announced by
// Add. The timer is the fallback when a signal is missed; nil never wakes.
func (b *BatchProcessor) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}

// startJob runs one leased request in its own goroutine. sentAt is when
// the lease call was sent: the reservation's time is no earlier.
func (b *BatchProcessor) startJob(l redisstore.Leased, sentAt time.Time) {
	job, err := b.decodeJob(l)
	id, token := l.ID, l.Lease
	if err != nil {
		// A payload that cannot be decoded will never run: dead at once.
		b.ack(nil, id, token, nil, Permanent(err), 0)
		return
	}
	timeout := job.Timeout
	ctx, cancelCause := context.WithCancelCause(context.Background())
	b.mu.Lock()
	b.running[id] = &runningJob{token: token, cancel: cancelCause, giveUpAt: time.Now().Add(timeout + b.cfg.lease)}
	b.mu.Unlock()
	b.jobs.Add(1)
	go func() {
		defer b.jobs.Done()
		defer cancelCause(nil)
		tctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		stamp := b.newStamp(job.ID, token, sentAt)
		stamp.renewIfLate()
		tctx = context.WithValue(tctx, stampKey{}, stamp)
		b.logStarted(job)
		start := time.Now()
		res, perr := b.call(tctx, job)
		stamp.wait()
		job.sent = stamp.sent.Load()
		if perr != nil && tctx.Err() != nil {
			// The context's cause decides the outcome, not the error text.
			switch cause := context.Cause(tctx); {
			case errors.Is(cause, errCanceledByUser), errors.Is(cause, errShutdown), errors.Is(cause, errLeaseLost):
				perr = fmt.Errorf("%w: %w", cause, perr)
			case errors.Is(cause, context.DeadlineExceeded):
				perr = fmt.Errorf("llmqueue: attempt timed out after %s: %w", timeout, perr)
			}
		}
		b.ack(job, id, token, res, perr, time.Since(start))
		b.mu.Lock()
		delete(b.running, id)
		b.mu.Unlock()
		select {
		case b.slotFreed <- struct{}{}:
		default:
		}
	}()
}

func (b *BatchProcessor) decodeJob(l redisstore.Leased) (*Job, error) {
	st, err := statusFromRecord(l.ID, l.Record, l.Err)
	if err != nil {
		return nil, err
	}
	if st.Payload == nil {
		return nil, fmt.Errorf("%w: stored payload is not JSON", ErrCorrupt)
	}
	timeout := st.Timeout
	if timeout <= 0 {
		timeout = b.cfg.defaultTimeout
	}
	rec := l.Record
	reserved := Charge{Tokens: rec.Tokens, InputTokens: rec.InTokens, OutputTokens: rec.OutTokens}.clamp()
	job := &Job{
		ID: st.ID, Payload: st.Payload, Priority: st.Priority,
		EstimatedTokens: st.EstimatedTokens, Reserved: reserved, Attempt: st.Attempts, MaxRetries: st.MaxRetries,
		Timeout: timeout, Meta: st.Meta, lease: l.Lease, CreatedAt: st.CreatedAt, LeasedAt: st.StartedAt, Deployment: b.deploy,
	}
	if rec.HasInput {
		job.ResumeInput = json.RawMessage(rec.Input)
	}
	job.State = rec.State
	job.setMeta = func(ctx context.Context, key string, value []byte) error {
		return b.qm.wrap("set meta", st.ID, b.store.SetMeta(ctx, st.ID, l.Lease, key, value))
	}
	return job, nil
}
