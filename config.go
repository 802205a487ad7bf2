package llmqueue

import (
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"time"
)

// Defaults for a QueueManager.
const (
	defaultNamespace = "default"
	defaultRetention = 24 * time.Hour
	// defaultOpTimeout is short so that Add fails fast when Redis is down.
	defaultOpTimeout = 5 * time.Second
	// defaultMaxPayloadBytes is 1 MiB, the HTTP API's body limit.
	defaultMaxPayloadBytes = 1 << 20
)

// Config configures a QueueManager; the zero value takes every default.
// Package envconfig fills one from the environment.
type Config struct {
	// Namespace names the shared queues and budget: 1-64 of [A-Za-z0-9_.:-]; "" means "default".
	Namespace string
	// Budget is the provider's limits for the namespace; the zero Budget limits nothing.
	Budget Budget
	// Thresholds split low, medium and long by estimate; zero fields mean 14,999 and 75,000.
	Thresholds Thresholds
	// Estimator estimates requests that carry no estimate; nil means HeuristicEstimator.
	Estimator Estimator
	// Meter is how the provider counts a call; nil means the Processor's or Estimator's (Metered), else ExactMeter.
	Meter Meter
	// Validator, when set, checks each payload before Add queues it; nil checks nothing.
	Validator Validator
	// Retention is how long completed, dead and canceled requests are kept; 0 means 24h.
	Retention time.Duration
	// OpTimeout bounds each Redis call the manager makes; 0 means 5s.
	OpTimeout time.Duration
	// MaxPayloadBytes is the largest payload Add accepts; 0 means 1 MiB.
	MaxPayloadBytes int
	// Durability is what Add waits for Redis to confirm; the zero value waits for nothing.
	Durability Durability
	// Logger receives the manager's logs; nil means slog.Default().
	Logger *slog.Logger
	// Prices, by model, price each completed call: the model is
	// Result.Model, else its Deployment's Model; an unpriced model costs 0.
	Prices map[string]Price
}

type managerConfig struct {
	namespace  string
	budget     Budget
	thresholds Thresholds
	estimator  Estimator
	validator  Validator
	meter      Meter // nil: the processor's or estimator's
	retention  time.Duration
	opTimeout  time.Duration
	logger     *slog.Logger
	maxPayload int // bytes
	prices     map[string]Price

	// durable is nil when Add does not wait: the zero Durability answers
	// once the master has applied the write (in its memory only). When set,
	// Add waits after the add script until Redis confirms it (WAIT, or
	// WAITAOF on Redis 7.2+) and fails with a *DurabilityError when it
	// cannot, although the request is queued. CheckDurability tells at
	// start-up whether Redis can confirm it at all.
	durable *Durability
}

// namespacePattern bounds Config.Namespace. A namespace is one budget
// domain and one Redis Cluster slot: every key carries it as a hash tag, and
// every process with the same Namespace on the same Redis shares the queues
// and the budget.
var namespacePattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func newManagerConfig(cfg *Config) (managerConfig, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c := managerConfig{
		namespace: cfg.Namespace, budget: cfg.Budget, thresholds: cfg.Thresholds,
		estimator: cfg.Estimator, validator: cfg.Validator, meter: cfg.Meter,
		retention: cfg.Retention, opTimeout: cfg.OpTimeout, logger: cfg.Logger,
		maxPayload: cfg.MaxPayloadBytes,
	}
	for model, p := range cfg.Prices {
		if err := p.validate(model); err != nil {
			return c, err
		}
	}
	c.prices = maps.Clone(cfg.Prices)
	if cfg.Durability != (Durability{}) {
		d := cfg.Durability
		c.durable = &d
	}
	if c.namespace == "" {
		c.namespace = defaultNamespace
	}
	switch {
	case c.retention < 0:
		return c, fmt.Errorf("llmqueue: retention %s: must not be negative", c.retention)
	case c.opTimeout < 0:
		return c, fmt.Errorf("llmqueue: op timeout %s: must not be negative", c.opTimeout)
	case c.maxPayload < 0:
		return c, fmt.Errorf("llmqueue: max payload bytes %d: must not be negative", c.maxPayload)
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
		c.retention = defaultRetention
	}
	if c.opTimeout <= 0 {
		c.opTimeout = defaultOpTimeout
	}
	durable, err := c.durable.resolve(c.opTimeout)
	if err != nil {
		return c, err
	}
	c.durable = durable
	if c.maxPayload <= 0 {
		c.maxPayload = defaultMaxPayloadBytes
	}
	if c.estimator == nil {
		c.estimator = HeuristicEstimator{}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c, nil
}
