package llmqueue

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Defaults for a QueueManager.
const (
	DefaultNamespace = "default"
	DefaultRetention = 24 * time.Hour
	DefaultOpTimeout = 5 * time.Second
	// DefaultMaxPayloadBytes is the largest payload Add accepts unless
	// WithMaxPayloadBytes says otherwise: 1 MiB, like the HTTP API's body
	// limit.
	DefaultMaxPayloadBytes = 1 << 20
)

// Option configures a QueueManager.
type Option func(*managerConfig)

type managerConfig struct {
	namespace  string
	budget     Budget
	thresholds Thresholds
	estimator  Estimator
	validator  Validator
	meter      Meter // set by WithMeter; nil: the processor's or estimator's
	retention  time.Duration
	opTimeout  time.Duration
	logger     *slog.Logger
	maxPayload int // bytes; see WithMaxPayloadBytes

	// durable is set by WithDurableAdd; nil means Add does not wait.
	durable *Durability
}

// WithNamespace sets the namespace: one namespace is one budget domain and
// one Redis Cluster slot. Defaults to "default".
func WithNamespace(ns string) Option { return func(c *managerConfig) { c.namespace = ns } }

// WithBudget sets the shared token and request budget. Defaults to no limit.
func WithBudget(b Budget) Option { return func(c *managerConfig) { c.budget = b } }

// WithThresholds sets the low/medium/long classification thresholds.
func WithThresholds(t Thresholds) Option { return func(c *managerConfig) { c.thresholds = t } }

// WithEstimator sets how Add estimates requests that carry no estimate.
// Defaults to HeuristicEstimator.
func WithEstimator(e Estimator) Option { return func(c *managerConfig) { c.estimator = e } }

// WithMeter sets how the namespace's provider counts calls (see Meter),
// overriding what the Processor and the Estimator declare through Metered.
// Without it, a Processor that implements Metered decides, and requests are
// reserved with the Estimator's meter when it implements Metered,
// ExactMeter otherwise.
func WithMeter(m Meter) Option { return func(c *managerConfig) { c.meter = m } }

// WithValidator makes Add check each payload before it is queued.
func WithValidator(v Validator) Option { return func(c *managerConfig) { c.validator = v } }

// WithRetention sets how long completed, dead and canceled requests are
// kept. Defaults to 24 hours.
func WithRetention(d time.Duration) Option { return func(c *managerConfig) { c.retention = d } }

// WithOpTimeout bounds each Redis call the manager makes, so Add fails fast
// when Redis is down. Defaults to 5 seconds.
func WithOpTimeout(d time.Duration) Option { return func(c *managerConfig) { c.opTimeout = d } }

// WithMaxPayloadBytes sets the largest payload Add accepts, in bytes; a
// larger one fails with a *LimitError that matches ErrInvalidPayload.
// Every queued payload sits in Redis's memory until its retention ends,
// and a worker reads it whole. Zero or less means the default,
// DefaultMaxPayloadBytes (1 MiB).
func WithMaxPayloadBytes(n int) Option { return func(c *managerConfig) { c.maxPayload = n } }

// WithDurableAdd makes Add and AddMany wait, after storing, until Redis
// confirms d (WAIT for replicas, WAITAOF for fsynced AOF on Redis 7.2+),
// and fail with a *DurabilityError when it cannot, although the requests
// are queued. Off by default: Add answers once the master has the write.
// Call CheckDurability at start-up to learn early whether Redis can
// confirm d.
func WithDurableAdd(d Durability) Option { return func(c *managerConfig) { c.durable = &d } }

// WithLogger sets the logger. Defaults to slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *managerConfig) { c.logger = l } }

var namespacePattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func newManagerConfig(opts []Option) (managerConfig, error) {
	c := managerConfig{namespace: DefaultNamespace, retention: DefaultRetention, opTimeout: DefaultOpTimeout}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if !namespacePattern.MatchString(c.namespace) {
		// Braces would break the hash tag that keeps a namespace in one slot.
		return c, fmt.Errorf("llmqueue: namespace %q: want 1-64 of [A-Za-z0-9_.:-]", c.namespace)
	}
	if err := c.budget.validate(); err != nil {
		return c, err
	}
	c.budget = c.budget.withDefaults()
	c.thresholds = c.thresholds.withDefaults()
	if c.thresholds.MediumMax <= c.thresholds.LowMax {
		return c, fmt.Errorf("llmqueue: thresholds: medium max %d must exceed low max %d",
			c.thresholds.MediumMax, c.thresholds.LowMax)
	}
	if c.retention <= 0 {
		c.retention = DefaultRetention
	}
	if c.opTimeout <= 0 {
		c.opTimeout = DefaultOpTimeout
	}
	durable, err := c.durable.resolve(c.opTimeout)
	if err != nil {
		return c, err
	}
	c.durable = durable
	if c.maxPayload <= 0 {
		c.maxPayload = DefaultMaxPayloadBytes
	}
	if c.estimator == nil {
		c.estimator = HeuristicEstimator{}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}
