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
//
// Notes on the WorkerConfig fields, kept here out of the API docs:
//   - Cycle: every process of a namespace should use the same one;
//     QueueManager.SetCycle overrides it for all of them while they run.
//   - Lease: heartbeats come every third of it, and a worker that dies
//     loses its requests to the others after this long.
//   - PollInterval: an Add wakes idle workers at once (pub/sub), so this
//     is only the fallback.
//   - MaxBudgetWait: the lease script says how long to wait for the
//     budget; this only bounds it.
//   - MaxRateLimited: provider 429s do not spend a request's retries, so
//     this is what stops a request that is refused forever.
//   - Backoff: attempt is 1 for the first retry.
//   - AttemptHooks: prom's Collector.Observe is one; hooks run on the
//     worker goroutine, so they must be fast; a hook that panics is logged
//     and skipped for that attempt, and nil entries are dropped (see
//     newBatchConfig).
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

// WorkerConfig configures a BatchProcessor; the zero value takes every
// default. Package envconfig fills one from the environment.
type WorkerConfig struct {
	// Concurrency is how many requests this process runs at once; 0 means 10.
	Concurrency int
	// Cycle is the slots per class, 1-1000 each; the zero Cycle means 3 low, 2 medium, 1 long.
	Cycle Cycle
	// Lease is how long a lease lasts without a heartbeat; 0 means 30s, the least is 100ms.
	Lease time.Duration
	// LeaseBatch is the most requests one lease call takes; 0 means 16.
	LeaseBatch int
	// PollInterval is the longest sleep while every queue is empty; 0 means 1s.
	PollInterval time.Duration
	// MaxBudgetWait caps one sleep while the budget is short; 0 means 1m.
	MaxBudgetWait time.Duration
	// RateLimitWait is the cool-down after a 429 without Retry-After; 0 means 1s.
	RateLimitWait time.Duration
	// JobTimeout bounds an attempt of a request without WithTimeout; 0 means 10m.
	JobTimeout time.Duration
	// MaxRateLimited is how many 429s a request may see before it dies; 0 means 25.
	MaxRateLimited int
	// MaxEmptyCycles is how many empty lease calls in a row make Status say idle; 0 means 3.
	MaxEmptyCycles int
	// Backoff is the delay before retry number attempt; nil means ExponentialBackoff(time.Second, 5*time.Minute).
	Backoff func(attempt int) time.Duration
	// Middleware wraps every attempt, the first outermost; nil means none.
	Middleware []Middleware
	// AttemptHooks run in order after each recorded attempt, on the worker goroutine; nil means none.
	AttemptHooks []func(AttemptEvent)
	// WorkerID names this process in the worker registry; "" means host-pid-random.
	WorkerID string
	// Logger receives the processor's logs; nil means the manager's.
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

// ExponentialBackoff returns base x 2^(attempt-1), capped at max, with jitter:
// a uniform draw between half and all of it.
func ExponentialBackoff(base, max time.Duration) func(attempt int) time.Duration {
	// The jitter spreads out the retries of many requests that failed
	// together, so they do not all come back at once.
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
		c.workerID = host + "-" + strconv.Itoa(os.Getpid()) + "-" + newID()[11:] // 8 random digits
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

// AttemptEvent describes one finished attempt, for metrics and tracing
// (WorkerConfig.AttemptHooks).
type AttemptEvent struct {
	ID        string        // the request's ID
	Priority  Priority      // the request's class
	Attempt   int           // 1 for the first attempt
	Status    Status        // the request's status after the attempt
	Duration  time.Duration // how long the attempt ran
	Estimated int64         // the tokens reserved for it
	Usage     Usage         // the usage the Processor reported, on success
	Err       error         // the attempt's error, nil on success
	// Deployment is the Router deployment it ran on, "" outside a Router;
	// FailedOver is true when the deployment's failure sent it to another.
	Deployment string
	FailedOver bool
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
