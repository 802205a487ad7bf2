package llmqueuetest

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/llmqueue/llmqueue"
	"github.com/redis/go-redis/v9"
)

// Defaults of a Kit.
const (
	// DefaultWaitTimeout is how long Wait, WaitStatus, Run and ProcessOnce
	// wait for a request before they give up; WithWaitTimeout changes it.
	DefaultWaitTimeout = 10 * time.Second
	// DefaultPollInterval is the BatchProcessor's poll interval in a Kit
	// (llmqueue.WorkerConfig.PollInterval), shorter than the library's default so
	// that a retry or the end of a rate-limit wait is picked up at once.
	DefaultPollInterval = 20 * time.Millisecond
	// ShutdownTimeout bounds each BatchProcessor's Shutdown at cleanup.
	ShutdownTimeout = 5 * time.Second
)

// Kit is a queue under test: a Redis, a QueueManager on it, and the
// BatchProcessors started on the manager. New builds one; the test's
// cleanup shuts the processors down, closes the manager, and closes the
// client and stops the embedded Redis when the Kit made them.
//
// Its methods fail the test through the testing.TB given to New, so call
// them from the test's goroutine.
type Kit struct {
	// Client is the Redis client of the manager: on the embedded
	// miniredis, or the one given to WithClient.
	Client redis.UniversalClient
	// Mini is the embedded miniredis, nil with WithClient. Close and
	// Restart it to see how code behaves while Redis is down.
	Mini *miniredis.Miniredis
	// Manager is the Kit's QueueManager.
	Manager *llmqueue.QueueManager
	// Processor is the BatchProcessor New started; nil when New got a
	// nil Processor.
	Processor *llmqueue.BatchProcessor

	tb  testing.TB
	cfg config
}

// Option configures New and ProcessOnce.
type Option func(*config)

type config struct {
	manager     llmqueue.Config
	worker      llmqueue.WorkerConfig
	client      redis.UniversalClient
	waitTimeout time.Duration
}

// WithManagerConfig is the llmqueue.Config of the Kit's QueueManager. An
// empty Namespace gets one of the Kit's own (see New).
func WithManagerConfig(cfg llmqueue.Config) Option {
	return func(c *config) { c.manager = cfg }
}

// WithWorkerConfig is the llmqueue.WorkerConfig of the Kit's
// BatchProcessors. A zero PollInterval is DefaultPollInterval.
func WithWorkerConfig(cfg llmqueue.WorkerConfig) Option {
	return func(c *config) { c.worker = cfg }
}

// WithClient runs the Kit on rdb instead of an embedded miniredis: a real
// redis-server, a cluster. The caller owns rdb and closes it. ProcessOnce
// refuses it.
func WithClient(rdb redis.UniversalClient) Option {
	return func(c *config) { c.client = rdb }
}

// WithWaitTimeout sets how long Wait, WaitStatus, Run and ProcessOnce wait
// for a request. Defaults to DefaultWaitTimeout; zero or less keeps the
// default.
func WithWaitTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.waitTimeout = d
		}
	}
}

func newConfig(opts []Option) config {
	c := config{waitTimeout: DefaultWaitTimeout}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// managerConfig gives an unnamed namespace a fresh name, so a test on a
// shared Redis sees only its own requests unless it names a namespace.
func (c config) managerConfig() *llmqueue.Config {
	mc := c.manager
	if mc.Namespace == "" {
		mc.Namespace = "llmqueuetest-" + rand.Text()[:12]
	}
	return &mc
}

// workerConfig is wc, or the Kit's when wc is nil, with the Kit's poll
// interval when it sets none.
func (c config) workerConfig(wc *llmqueue.WorkerConfig) *llmqueue.WorkerConfig {
	w := c.worker
	if wc != nil {
		w = *wc
	}
	if w.PollInterval == 0 {
		w.PollInterval = DefaultPollInterval
	}
	return &w
}

// New starts an embedded miniredis (or uses WithClient's client), builds a
// QueueManager on it and, when proc is not nil, starts a BatchProcessor
// running proc. Everything is stopped by tb's cleanup. A setup error fails
// the test at once.
//
// The manager works in a namespace of its own, "llmqueuetest-" and random
// characters, unless WithManagerConfig names one. The processor polls
// every DefaultPollInterval; WithWorkerConfig sets anything else, such as
// a Backoff for fast retries.
func New(tb testing.TB, proc llmqueue.Processor, opts ...Option) *Kit {
	tb.Helper()
	k := &Kit{tb: tb, cfg: newConfig(opts)}
	k.Client = k.cfg.client
	if k.Client == nil {
		k.Mini = miniredis.RunT(tb)
		rdb := redis.NewClient(&redis.Options{Addr: k.Mini.Addr()})
		tb.Cleanup(func() { _ = rdb.Close() })
		k.Client = rdb
	}
	qm, err := llmqueue.NewQueueManager(k.Client, k.cfg.managerConfig())
	if err != nil {
		tb.Fatalf("llmqueuetest: new queue manager: %v", err)
	}
	tb.Cleanup(func() { _ = qm.Close() })
	k.Manager = qm
	if proc != nil {
		k.Processor = k.StartProcessor(proc, nil)
	}
	return k
}

// StartProcessor starts another BatchProcessor on the Kit's manager,
// running proc with wc (nil: the Kit's WorkerConfig; a zero PollInterval
// is DefaultPollInterval), and shuts it down at cleanup (within
// ShutdownTimeout). It is how a test adds a worker whose configuration the
// Kit's cannot give, such as an attempt hook that needs the manager:
// New(tb, nil), then StartProcessor.
func (k *Kit) StartProcessor(proc llmqueue.Processor, wc *llmqueue.WorkerConfig) *llmqueue.BatchProcessor {
	k.tb.Helper()
	bp, err := llmqueue.NewBatchProcessor(k.Manager, proc, k.cfg.workerConfig(wc))
	if err != nil {
		k.tb.Fatalf("llmqueuetest: new batch processor: %v", err)
	}
	if err := bp.Start(context.Background()); err != nil {
		k.tb.Fatalf("llmqueuetest: start batch processor: %v", err)
	}
	k.tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := bp.Shutdown(ctx); err != nil && !errors.Is(err, llmqueue.ErrClosed) {
			k.tb.Logf("llmqueuetest: shutdown of worker %s: %v", bp.WorkerID(), err)
		}
	})
	return bp
}
