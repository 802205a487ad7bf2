package llmqueue

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// Defaults for a BatchProcessor, used where a WorkerConfig field is zero.
const (
	defaultConcurrency    = 10
	defaultLease          = 30 * time.Second
	defaultPollInterval   = time.Second
	defaultMaxBudgetWait  = time.Minute
	defaultMaxRateLimited = 25
	defaultRateLimitWait  = time.Second
	defaultMaxEmptyCycles = 3
	defaultLeaseBatch     = 16
)

// WorkerConfig configures a BatchProcessor. The zero value is ready to use:
// every zero field takes the default named in its comment. Package
// envconfig fills one from the environment.
type WorkerConfig struct {
	// Concurrency is how many requests this process runs at once.
	// 0 means 10.
	Concurrency int
	// Cycle is the slots per class in one cycle, 1 to 1000 each.
	// The zero Cycle means 3 low, 2 medium, 1 long. Every process of a
	// namespace should use the same one; QueueManager.SetCycle overrides
	// it for all of them while they run.
	Cycle Cycle
	// Lease is how long a leased request stays this worker's without a
	// heartbeat (they come every third of it): a worker that dies loses its
	// requests to the others after this long. 0 means 30 seconds; at least
	// 100ms.
	Lease time.Duration
	// LeaseBatch is the most requests one lease call takes. 0 means
	// 16.
	LeaseBatch int
	// PollInterval is the longest sleep while every queue is empty (an Add
	// wakes the workers at once). 0 means one second.
	PollInterval time.Duration
	// MaxBudgetWait caps one sleep while the budget is short: the lease
	// script says how long to wait, this bounds it. 0 means one minute.
	MaxBudgetWait time.Duration
	// RateLimitWait is the cool-down after a provider 429 that named no
	// Retry-After. 0 means one second.
	RateLimitWait time.Duration
	// JobTimeout bounds an attempt of a request that set no WithTimeout.
	// 0 means 10 minutes.
	JobTimeout time.Duration
	// MaxRateLimited is how many provider 429s one request may see before
	// it dies; 429s do not spend retries. 0 means 25.
	MaxRateLimited int
	// MaxEmptyCycles is how many empty lease calls in a row make Status
	// report the worker idle. 0 means 3.
	MaxEmptyCycles int
	// Backoff is the delay before retry number attempt (1 for the first).
	// nil means ExponentialBackoff(time.Second, 5*time.Minute).
	Backoff func(attempt int) time.Duration
	// Middleware wraps every attempt; the first is the outermost.
	Middleware []Middleware
	// AttemptHooks are called, in order, after every attempt whose outcome
	// was recorded (prom's Collector.Observe is one). They run on the
	// worker goroutine: keep them fast. A hook that panics is logged and
	// skipped for that attempt. nil entries are ignored.
	AttemptHooks []func(AttemptEvent)
	// WorkerID names this process in the worker registry. "" means
	// host-pid-random.
	WorkerID string
	// Logger receives the processor's logs. nil means the manager's.
	Logger *slog.Logger
}

type batchConfig struct {
	concurrency    int
	cycle          [3]int
	lease          time.Duration
	pollInterval   time.Duration
	maxBudgetWait  time.Duration
	rateLimitWait  time.Duration
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

func newBatchConfig(q *QueueManager, wc *WorkerConfig) (batchConfig, error) {
	if wc == nil {
		wc = &WorkerConfig{}
	}
	c := batchConfig{
		concurrency:    orDefault(wc.Concurrency, defaultConcurrency),
		cycle:          [3]int{wc.Cycle.Low, wc.Cycle.Medium, wc.Cycle.Long},
		lease:          orDefault(wc.Lease, defaultLease),
		pollInterval:   orDefault(wc.PollInterval, defaultPollInterval),
		maxBudgetWait:  orDefault(wc.MaxBudgetWait, defaultMaxBudgetWait),
		rateLimitWait:  orDefault(wc.RateLimitWait, defaultRateLimitWait),
		defaultTimeout: orDefault(wc.JobTimeout, defaultTimeout),
		maxRateLimited: orDefault(wc.MaxRateLimited, defaultMaxRateLimited),
		leaseBatch:     orDefault(wc.LeaseBatch, defaultLeaseBatch),
		maxEmptyCycles: orDefault(wc.MaxEmptyCycles, defaultMaxEmptyCycles),
		backoff:        wc.Backoff,
		middleware:     wc.Middleware,
		workerID:       wc.WorkerID,
		logger:         wc.Logger,
	}
	if wc.Cycle == (Cycle{}) {
		c.cycle = defaultCycle
	}
	if c.backoff == nil {
		c.backoff = ExponentialBackoff(time.Second, 5*time.Minute)
	}
	if c.workerID == "" {
		host, _ := os.Hostname()
		c.workerID = host + "-" + strconv.Itoa(os.Getpid()) + "-" + newID()[12:20]
	}
	if c.logger == nil {
		c.logger = q.cfg.logger
	}
	for _, h := range wc.AttemptHooks {
		if h != nil {
			c.attemptHooks = append(c.attemptHooks, h)
		}
	}
	switch {
	case c.concurrency < 1:
		return c, fmt.Errorf("llmqueue: concurrency %d: want at least 1", c.concurrency)
	case validCycle(c.cycle) != nil:
		return c, validCycle(c.cycle)
	case c.lease < 100*time.Millisecond:
		return c, fmt.Errorf("llmqueue: lease %s: want at least 100ms", c.lease)
	case c.pollInterval < 0 || c.maxBudgetWait < 0 || c.rateLimitWait < 0 || c.defaultTimeout < 0:
		return c, fmt.Errorf("llmqueue: poll interval, budget wait, rate-limit wait and job timeout must not be negative")
	case c.maxRateLimited < 0 || c.maxEmptyCycles < 0 || c.leaseBatch < 0:
		return c, fmt.Errorf("llmqueue: max rate-limited, max empty cycles and lease batch must not be negative")
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

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
