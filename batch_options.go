package llmqueue

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// Defaults for a BatchProcessor.
const (
	DefaultConcurrency    = 10
	DefaultLease          = 30 * time.Second
	DefaultPollInterval   = time.Second
	DefaultMaxBudgetWait  = time.Minute
	DefaultMaxRateLimited = 25
	DefaultRateLimitWait  = time.Second
	DefaultLowCount       = 3
	DefaultMediumCount    = 2
	DefaultLongCount      = 1
	DefaultLeaseBatch     = 16
)

// BatchOption configures a BatchProcessor.
type BatchOption func(*batchConfig)

type batchConfig struct {
	concurrency    int
	cycle          [3]int
	lease          time.Duration
	pollInterval   time.Duration
	maxBudgetWait  time.Duration
	defaultTimeout time.Duration
	maxRateLimited int
	leaseBatch     int
	maxEmptyCycles int
	backoff        func(attempt int) time.Duration
	attemptHooks   []func(AttemptEvent)
	middleware     []Middleware
	chain          Processor // the attempt wrapped in middleware; set by NewBatchProcessor
	workerID       string
	logger         *slog.Logger
}

// WithConcurrency sets how many requests one process runs at once.
// Defaults to 10.
func WithConcurrency(n int) BatchOption { return func(c *batchConfig) { c.concurrency = n } }

// WithCycle sets the slots per class in one cycle, 1 to MaxCycleSlots
// each. Defaults to 3 low, 2 medium, 1 long. Every process of a namespace
// should use the same cycle; QueueManager.SetCycle overrides it for all of
// them at once, while they run.
func WithCycle(low, medium, long int) BatchOption {
	return func(c *batchConfig) { c.cycle = [3]int{low, medium, long} }
}

// WithLease sets how long a lease lasts without a heartbeat; a worker
// that dies loses its requests to other workers after this long. Defaults
// to 30 seconds; heartbeats come every third of it.
func WithLease(d time.Duration) BatchOption { return func(c *batchConfig) { c.lease = d } }

// WithPollInterval sets the longest sleep when all queues are empty.
// Defaults to one second.
func WithPollInterval(d time.Duration) BatchOption {
	return func(c *batchConfig) { c.pollInterval = d }
}

// WithMaxBudgetWait caps one sleep while the budget is short (the lease
// script says how long to wait; this bounds it). Defaults to one minute.
func WithMaxBudgetWait(d time.Duration) BatchOption {
	return func(c *batchConfig) { c.maxBudgetWait = d }
}

// WithDefaultTimeout sets the timeout of requests that carry none.
// Defaults to 10 minutes.
func WithDefaultTimeout(d time.Duration) BatchOption {
	return func(c *batchConfig) { c.defaultTimeout = d }
}

// WithMaxRateLimited sets how many provider 429s one request may see before
// it dies; 429s do not spend retries. Defaults to 25.
func WithMaxRateLimited(n int) BatchOption { return func(c *batchConfig) { c.maxRateLimited = n } }

// WithMaxEmptyCycles sets how many consecutive empty lease calls count as
// idle in Status. Defaults to 3.
func WithMaxEmptyCycles(n int) BatchOption { return func(c *batchConfig) { c.maxEmptyCycles = n } }

// WithBackoff sets the delay before retry number attempt (1 for the first
// retry). Defaults to ExponentialBackoff(time.Second, 5*time.Minute).
func WithBackoff(f func(attempt int) time.Duration) BatchOption {
	return func(c *batchConfig) { c.backoff = f }
}

// WithWorkerID names this process in the worker registry. Defaults to
// host-pid-random.
func WithWorkerID(id string) BatchOption { return func(c *batchConfig) { c.workerID = id } }

// WithBatchLogger sets the logger. Defaults to the manager's.
func WithBatchLogger(l *slog.Logger) BatchOption { return func(c *batchConfig) { c.logger = l } }

// ExponentialBackoff returns base x 2^(attempt-1), capped at max, with full
// jitter (a uniform draw between half and all of it), so retries of many
// requests that failed together spread out.
func ExponentialBackoff(base, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		if attempt < 1 {
			attempt = 1
		}
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		if d > max {
			d = max
		}
		if d <= 1 {
			return d
		}
		half := d / 2
		return half + time.Duration(rand.Int64N(int64(d-half)+1))
	}
}

func newBatchConfig(q *QueueManager, opts []BatchOption) (batchConfig, error) {
	host, _ := os.Hostname()
	c := batchConfig{
		concurrency:    DefaultConcurrency,
		cycle:          [3]int{DefaultLowCount, DefaultMediumCount, DefaultLongCount},
		lease:          DefaultLease,
		pollInterval:   DefaultPollInterval,
		maxBudgetWait:  DefaultMaxBudgetWait,
		defaultTimeout: DefaultTimeout,
		maxRateLimited: DefaultMaxRateLimited,
		leaseBatch:     DefaultLeaseBatch,
		maxEmptyCycles: 3,
		backoff:        ExponentialBackoff(time.Second, 5*time.Minute),
		workerID:       host + "-" + strconv.Itoa(os.Getpid()) + "-" + newID()[12:20],
		logger:         q.cfg.logger,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	switch {
	case c.concurrency < 1:
		return c, fmt.Errorf("llmqueue: concurrency %d: want at least 1", c.concurrency)
	case validCycle(c.cycle) != nil:
		return c, validCycle(c.cycle)
	case c.lease < 100*time.Millisecond:
		return c, fmt.Errorf("llmqueue: lease %s: want at least 100ms", c.lease)
	case c.pollInterval <= 0 || c.maxBudgetWait <= 0 || c.defaultTimeout <= 0:
		return c, fmt.Errorf("llmqueue: poll interval, budget wait and timeout must be positive")
	case c.maxRateLimited < 0 || c.maxEmptyCycles < 0:
		return c, fmt.Errorf("llmqueue: max rate-limited and max empty cycles must not be negative")
	case c.backoff == nil || c.logger == nil:
		return c, fmt.Errorf("llmqueue: nil backoff or logger")
	}
	return c, nil
}

// AttemptEvent describes one finished attempt, for metrics and tracing.
type AttemptEvent struct {
	ID        string
	Priority  Priority
	Attempt   int
	Status    Status // the request's status after the attempt
	Duration  time.Duration
	Estimated int64
	Usage     Usage
	Err       error
}

// WithAttemptHook calls f after every attempt whose outcome was recorded.
// It may be given more than once: every hook is called, in the order
// given, so a metrics hook (prom's Collector.Observe) and a log hook need
// no hand-written fan-out; a nil f is ignored. The hooks run on the
// worker goroutine: keep them fast. A hook that panics is logged and
// skipped for that attempt; the worker and the other hooks go on.
func WithAttemptHook(f func(AttemptEvent)) BatchOption {
	return func(c *batchConfig) {
		if f != nil {
			c.attemptHooks = append(c.attemptHooks, f)
		}
	}
}
