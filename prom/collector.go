// Package prom exports an llmqueue namespace to Prometheus.
//
// A Collector reports two kinds of metrics. The queue's shared state (queue
// depths, in-flight requests, the completed/failed/retried counters, the
// token budget, live workers) is read from Redis with one
// QueueManager.Metrics call per scrape, so every process that registers a
// Collector reports the same numbers for the namespace. Attempt latency and
// token usage are per process: they are fed by Observe, which a
// BatchProcessor calls after every attempt when c.Observe is one of its
// WorkerConfig.AttemptHooks; hooks of your own may be listed beside it,
// and all of them are called.
//
//	c := prom.NewCollector(qm)
//	prometheus.MustRegister(c)
//	bp, err := llmqueue.NewBatchProcessor(qm, proc, &llmqueue.WorkerConfig{
//		AttemptHooks: []func(llmqueue.AttemptEvent){c.Observe},
//	})
//
// Every metric carries a "queue_namespace" label (not "namespace", which
// Kubernetes scrape configs claim) with the queue's namespace. When
// Redis cannot be read, llmqueue_up is 0 and the Redis-backed metrics are
// left out of that scrape; the per-process metrics are still reported.
package prom

import (
	"context"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/prometheus/client_golang/prometheus"
)

const metricPrefix = "llmqueue"

// DefaultScrapeTimeout bounds the Redis read behind one Collect.
const DefaultScrapeTimeout = 2 * time.Second

// DefaultBuckets are the attempt-duration histogram's buckets in seconds:
// LLM calls take from a fraction of a second to the half hour of a long
// human-in-the-loop orchestration.
var DefaultBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// Option configures a Collector.
type Option func(*config)

type config struct {
	timeout time.Duration
	buckets []float64
}

// WithScrapeTimeout bounds the Redis read behind one Collect. Defaults to
// DefaultScrapeTimeout; the manager's own operation timeout applies too.
func WithScrapeTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithBuckets sets the attempt-duration histogram's buckets in seconds.
// Defaults to DefaultBuckets.
func WithBuckets(b []float64) Option {
	return func(c *config) {
		if len(b) > 0 {
			c.buckets = append([]float64(nil), b...)
		}
	}
}

// Collector is a prometheus.Collector for one QueueManager's namespace. It
// is safe for concurrent use; register it once per registry.
type Collector struct {
	qm      *llmqueue.QueueManager
	timeout time.Duration
	descs   descs

	attempts   *prometheus.HistogramVec
	tokUsed    *prometheus.CounterVec
	tokEstim   *prometheus.CounterVec
	perProcess []prometheus.Collector
}

// NewCollector returns a Collector reporting qm's namespace.
func NewCollector(qm *llmqueue.QueueManager, opts ...Option) *Collector {
	cfg := config{timeout: DefaultScrapeTimeout, buckets: DefaultBuckets}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	ns := prometheus.Labels{"queue_namespace": qm.Namespace()}
	c := &Collector{qm: qm, timeout: cfg.timeout, descs: newDescs(ns)}
	c.attempts = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricPrefix, Name: "attempt_duration_seconds",
		Help:        "Duration of processing attempts run by this process, by priority and the request's status after the attempt.",
		ConstLabels: ns, Buckets: cfg.buckets,
	}, []string{"priority", "status"})
	c.tokUsed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricPrefix, Name: "tokens_used_total",
		Help:        "Tokens the provider reported as used by successful attempts of this process.",
		ConstLabels: ns,
	}, []string{"priority"})
	c.tokEstim = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricPrefix, Name: "tokens_estimated_total",
		Help:        "Token estimates reserved by the attempts of this process.",
		ConstLabels: ns,
	}, []string{"priority"})
	c.perProcess = []prometheus.Collector{c.attempts, c.tokUsed, c.tokEstim}
	return c
}

// Observe records one finished attempt. Pass it to the BatchProcessor as
// WorkerConfig.AttemptHooks; it only updates in-memory metrics
// and never blocks on Redis.
func (c *Collector) Observe(ev llmqueue.AttemptEvent) {
	prio := string(ev.Priority)
	if prio == "" {
		prio = "unknown" // the stored request could not be decoded
	}
	status := string(ev.Status)
	if status == "" {
		status = "unknown"
	}
	c.attempts.WithLabelValues(prio, status).Observe(ev.Duration.Seconds())
	if t := ev.Usage.Total(); t > 0 {
		c.tokUsed.WithLabelValues(prio).Add(float64(t))
	}
	if ev.Estimated > 0 {
		c.tokEstim.WithLabelValues(prio).Add(float64(ev.Estimated))
	}
}

// Describe sends the descriptors of every metric the Collector reports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs.all() {
		ch <- d
	}
	for _, m := range c.perProcess {
		m.Describe(ch)
	}
}

// Collect reads the namespace's metrics from Redis and sends them together
// with this process's attempt metrics. A failed read sets llmqueue_up to 0
// and leaves the Redis-backed metrics out.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	m, err := c.qm.Metrics(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.descs.up, prometheus.GaugeValue, 0)
	} else {
		ch <- prometheus.MustNewConstMetric(c.descs.up, prometheus.GaugeValue, 1)
		c.descs.collect(ch, m)
	}
	for _, pm := range c.perProcess {
		pm.Collect(ch)
	}
}
