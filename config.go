package llmqueue

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything a deployment sets from its environment: where Redis
// is, the shared budget, and how the BatchProcessor cycles. ConfigFromEnv
// reads it; its methods turn it into what the constructors take:
//
//	cfg, err := llmqueue.ConfigFromEnv()
//	if err != nil {
//		return err // names every bad variable
//	}
//	rdb, err := cfg.NewRedisClient()
//	...
//	qm, err := llmqueue.NewQueueManager(rdb, cfg.ManagerOptions()...)
//	...
//	bp, err := llmqueue.NewBatchProcessor(qm, proc, cfg.BatchOptions()...)
//
// Options given after the Config's own override them. Every field holds its
// resolved value, defaults included; to build a Config in code, start from
// DefaultConfig, because a zero field is taken as written (a zero
// Concurrency is an error, a zero SafetyBufferPercent means no buffer).
//
// A Config may hold a password. String, GoString and LogValue redact it, so
// a Config is safe to print and log.
type Config struct {
	// RedisURL is REDIS_URL: redis://, rediss:// (TLS) or unix://, with
	// optional user:password@ and /db, as redis.ParseURL reads it. When set,
	// it wins over RedisHost, RedisPort and RedisDB, whichever variables
	// set them (REDIS_SERVICE_HOST and REDIS_SERVICE_PORT too); RedisPassword applies
	// only when the URL carries no password. A password holding '#', '/',
	// '?', '@' or '%' must be percent-encoded, and a ?password= option is
	// refused (go-redis reads only the user info); neither error shows any
	// part of the password.
	RedisURL string
	// RedisHost is REDIS_HOST. When REDIS_HOST is unset it is the host of
	// a REDIS_PORT of the form tcp://host:port, else REDIS_SERVICE_HOST
	// (what Kubernetes sets for a Service named redis), else "localhost".
	RedisHost string
	// RedisPort is REDIS_PORT: a port number, or tcp://host:port, the form
	// Kubernetes also sets for a Service named redis (its port is taken).
	// When REDIS_PORT is unset it is REDIS_SERVICE_PORT, else 6379.
	RedisPort int
	// RedisDB is REDIS_DB. Defaults to 0.
	RedisDB int
	// RedisPassword is REDIS_PASSWORD. Never printed.
	RedisPassword string
	// RedisMaxConnections is REDIS_MAX_CONNECTIONS, the connection pool
	// size. 0 (the default) keeps go-redis's default (10 per CPU).
	RedisMaxConnections int
	// RedisTLSCAFile is REDIS_TLS_CA_FILE: a PEM file of the CAs that sign
	// the server's certificate, for rediss:// to a private CA. Empty uses
	// the system's roots.
	RedisTLSCAFile string
	// RedisTLSCertFile and RedisTLSKeyFile are REDIS_TLS_CERT_FILE and
	// REDIS_TLS_KEY_FILE: a client certificate and key for servers that
	// check clients (tls-auth-clients yes). Both or neither.
	RedisTLSCertFile string
	RedisTLSKeyFile  string

	// TotalTPM is LLM_QUEUE_TOTAL_TPM, the provider's token limit per
	// Window. 0 (the default) means unlimited.
	TotalTPM int64
	// TotalRPM is LLM_QUEUE_TOTAL_RPM, the provider's request limit per
	// Window. 0 (the default) means unlimited.
	TotalRPM int64
	// TotalITPM and TotalOTPM are LLM_QUEUE_TOTAL_ITPM and
	// LLM_QUEUE_TOTAL_OTPM, the provider's input- and output-token limits
	// per Window (Anthropic). 0 (the default) means unlimited.
	TotalITPM, TotalOTPM int64
	// TotalTPD and TotalRPD are LLM_QUEUE_TOTAL_TPD and LLM_QUEUE_TOTAL_RPD,
	// the provider's token and request limits per day. 0 (the default)
	// means unlimited.
	TotalTPD, TotalRPD int64
	// APIAllocationPercent is LLM_QUEUE_API_ALLOCATION_PERCENT, the share
	// of the limits this queue may use, above 0 and at most 100. Defaults
	// to 100.
	APIAllocationPercent float64
	// SafetyBufferPercent is LLM_QUEUE_SAFETY_BUFFER_PERCENT, held back
	// from the allocation, at least 0 and below 100. Defaults to 10. Unlike
	// Budget's field, 0 here means no buffer.
	SafetyBufferPercent float64
	// Window is LLM_QUEUE_WINDOW, the length of the budget's sliding
	// window. Defaults to one minute.
	Window time.Duration

	// BatchLowCount, BatchMediumCount and BatchLongCount are
	// LLM_QUEUE_BATCH_LOW_COUNT, _MEDIUM_COUNT and _LONG_COUNT: the slots
	// per class in one cycle, 1 to 1000 each. Default to 3, 2 and 1.
	BatchLowCount    int
	BatchMediumCount int
	BatchLongCount   int
	// MaxEmptyCycles is LLM_QUEUE_MAX_EMPTY_CYCLES, the empty lease calls
	// in a row after which the processor reports itself idle. Defaults to 3.
	MaxEmptyCycles int
	// QuotaWaitDuration is LLM_QUEUE_QUOTA_WAIT_DURATION, the longest
	// single sleep while the budget is short. Defaults to 60 seconds.
	QuotaWaitDuration time.Duration
	// Concurrency is LLM_QUEUE_CONCURRENCY, the requests one process runs
	// at once. Defaults to 10.
	Concurrency int

	// Namespace is LLM_QUEUE_NAMESPACE. Defaults to "default".
	Namespace string
	// Retention is LLM_QUEUE_RETENTION, how long finished requests are
	// kept. Defaults to 24 hours.
	Retention time.Duration
	// OpTimeout is LLM_QUEUE_OP_TIMEOUT, the bound on each Redis call the
	// manager makes. Defaults to 5 seconds.
	OpTimeout time.Duration
}

// Defaults for the Redis connection when REDIS_URL is not set.
const (
	DefaultRedisHost = "localhost"
	DefaultRedisPort = 6379
)

// Upper bounds that keep a typo from exhausting memory or overflowing.
const (
	maxCycleCount     = 1000
	maxRedisPoolSize  = math.MaxInt32
	minConfigDuration = time.Millisecond
)

// DefaultConfig returns the Config that an empty environment gives.
func DefaultConfig() Config {
	return Config{
		RedisHost: DefaultRedisHost, RedisPort: DefaultRedisPort,
		APIAllocationPercent: DefaultAPIAllocationPercent,
		SafetyBufferPercent:  DefaultSafetyBufferPercent,
		Window:               DefaultWindow,
		BatchLowCount:        DefaultLowCount, BatchMediumCount: DefaultMediumCount, BatchLongCount: DefaultLongCount,
		MaxEmptyCycles:    3,
		QuotaWaitDuration: DefaultMaxBudgetWait,
		Concurrency:       DefaultConcurrency,
		Namespace:         DefaultNamespace,
		Retention:         DefaultRetention,
		OpTimeout:         DefaultOpTimeout,
	}
}

// ConfigFromEnv reads the Config from the process environment; see
// ConfigFromLookup.
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup reads the Config through lookup, which answers like
// os.LookupEnv. An unset or blank variable keeps its default; surrounding
// blanks are trimmed, except from REDIS_PASSWORD. A value that does not
// parse or is out of range is an error naming the variable, never a silent
// default, and all bad variables are reported together (joined with
// errors.Join, each an *EnvError).
// Durations take Go syntax ("90s", "1m30s") or whole seconds ("60").
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	c := DefaultConfig()
	if lookup == nil {
		return c, nil
	}
	var errs []error
	for _, v := range configVars(&c) {
		raw, ok := lookup(v.name)
		s := strings.TrimSpace(raw)
		if !ok || s == "" {
			continue
		}
		if v.name == envRedisPassword {
			s = raw // a password may end in a blank
		}
		if reason := v.set(s); reason != "" {
			errs = append(errs, &EnvError{Name: v.name, Value: redactValue(v.name, s), Reason: reason})
		}
	}
	if err := c.validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// EnvError is one bad configuration variable. Value is as given, except
// that passwords are redacted.
type EnvError struct {
	Name   string
	Value  string
	Reason string
}

// Error names the variable, its (redacted) value and why it was refused.
func (e *EnvError) Error() string {
	return fmt.Sprintf("llmqueue: %s=%q: %s", e.Name, e.Value, e.Reason)
}

// Environment variable names.
const (
	envRedisURL       = "REDIS_URL"
	envRedisHost      = "REDIS_HOST"
	envRedisPort      = "REDIS_PORT"
	envServiceHost    = "REDIS_SERVICE_HOST"
	envServicePort    = "REDIS_SERVICE_PORT"
	envRedisDB        = "REDIS_DB"
	envRedisPassword  = "REDIS_PASSWORD"
	envRedisMaxConns  = "REDIS_MAX_CONNECTIONS"
	envRedisTLSCA     = "REDIS_TLS_CA_FILE"
	envRedisTLSCert   = "REDIS_TLS_CERT_FILE"
	envRedisTLSKey    = "REDIS_TLS_KEY_FILE"
	envTotalTPM       = "LLM_QUEUE_TOTAL_TPM"
	envTotalRPM       = "LLM_QUEUE_TOTAL_RPM"
	envTotalITPM      = "LLM_QUEUE_TOTAL_ITPM"
	envTotalOTPM      = "LLM_QUEUE_TOTAL_OTPM"
	envTotalTPD       = "LLM_QUEUE_TOTAL_TPD"
	envTotalRPD       = "LLM_QUEUE_TOTAL_RPD"
	envAllocation     = "LLM_QUEUE_API_ALLOCATION_PERCENT"
	envSafetyBuffer   = "LLM_QUEUE_SAFETY_BUFFER_PERCENT"
	envWindow         = "LLM_QUEUE_WINDOW"
	envLowCount       = "LLM_QUEUE_BATCH_LOW_COUNT"
	envMediumCount    = "LLM_QUEUE_BATCH_MEDIUM_COUNT"
	envLongCount      = "LLM_QUEUE_BATCH_LONG_COUNT"
	envMaxEmptyCycles = "LLM_QUEUE_MAX_EMPTY_CYCLES"
	envQuotaWait      = "LLM_QUEUE_QUOTA_WAIT_DURATION"
	envConcurrency    = "LLM_QUEUE_CONCURRENCY"
	envNamespace      = "LLM_QUEUE_NAMESPACE"
	envRetention      = "LLM_QUEUE_RETENTION"
	envOpTimeout      = "LLM_QUEUE_OP_TIMEOUT"
)

// configVar parses one variable into its field; set returns why a value
// was rejected, or "".
type configVar struct {
	name string
	set  func(s string) string
}

func configVars(c *Config) []configVar {
	str := func(p *string) func(string) string { return func(s string) string { *p = s; return "" } }
	return []configVar{
		{envRedisURL, str(&c.RedisURL)},
		// The order gives the precedence: a later variable overwrites an
		// earlier one's host or port (see Config.RedisHost and RedisPort).
		{envServiceHost, str(&c.RedisHost)},
		{envServicePort, servicePortVar(&c.RedisPort)},
		{envRedisPort, redisPortVar(&c.RedisPort, &c.RedisHost)},
		{envRedisHost, str(&c.RedisHost)},
		{envRedisDB, intVar(&c.RedisDB)},
		{envRedisPassword, str(&c.RedisPassword)},
		{envRedisMaxConns, intVar(&c.RedisMaxConnections)},
		{envRedisTLSCA, str(&c.RedisTLSCAFile)},
		{envRedisTLSCert, str(&c.RedisTLSCertFile)},
		{envRedisTLSKey, str(&c.RedisTLSKeyFile)},
		{envTotalTPM, int64Var(&c.TotalTPM)},
		{envTotalRPM, int64Var(&c.TotalRPM)},
		{envTotalITPM, int64Var(&c.TotalITPM)},
		{envTotalOTPM, int64Var(&c.TotalOTPM)},
		{envTotalTPD, int64Var(&c.TotalTPD)},
		{envTotalRPD, int64Var(&c.TotalRPD)},
		{envAllocation, floatVar(&c.APIAllocationPercent)},
		{envSafetyBuffer, floatVar(&c.SafetyBufferPercent)},
		{envWindow, durationVar(&c.Window)},
		{envLowCount, intVar(&c.BatchLowCount)},
		{envMediumCount, intVar(&c.BatchMediumCount)},
		{envLongCount, intVar(&c.BatchLongCount)},
		{envMaxEmptyCycles, intVar(&c.MaxEmptyCycles)},
		{envQuotaWait, durationVar(&c.QuotaWaitDuration)},
		{envConcurrency, intVar(&c.Concurrency)},
		{envNamespace, str(&c.Namespace)},
		{envRetention, durationVar(&c.Retention)},
		{envOpTimeout, durationVar(&c.OpTimeout)},
	}
}

func int64Var(p *int64) func(string) string {
	return func(s string) string {
		n, err := strconv.ParseInt(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return "integer out of range"
		} else if err != nil {
			return "not an integer"
		}
		*p = n
		return ""
	}
}

func intVar(p *int) func(string) string {
	return func(s string) string {
		n, err := strconv.ParseInt(s, 10, strconv.IntSize)
		if errors.Is(err, strconv.ErrRange) {
			return "integer out of range"
		} else if err != nil {
			return "not an integer"
		}
		*p = int(n)
		return ""
	}
}

func floatVar(p *float64) func(string) string {
	return func(s string) string {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return "not a number"
		}
		*p = f
		return ""
	}
}

func durationVar(p *time.Duration) func(string) string {
	return func(s string) string {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
				return "duration out of range"
			}
			*p = time.Duration(n) * time.Second
			return ""
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return `not a duration (want e.g. "90s", "1m30s" or whole seconds "60")`
		}
		*p = d
		return ""
	}
}

// Validate checks every field's range and reports each bad one as an
// *EnvError naming its variable. ConfigFromLookup calls it; call it on a
// Config built in code.
func (c Config) Validate() error { return c.validate() }

func (c Config) validate() error {
	errs := []error{c.validateRedis()}
	if c.RedisTLSCertFile == "" || c.RedisTLSKeyFile != "" {
		// Read the TLS files now, so ConfigFromEnv names a missing or bad
		// file at start-up rather than at the first connection.
		if _, _, err := c.tlsFiles(); err != nil {
			errs = append(errs, err)
		}
	}
	bad := func(name string, value any, reason string) {
		errs = append(errs, &EnvError{Name: name, Value: fmt.Sprint(value), Reason: reason})
	}
	for _, l := range []struct {
		name  string
		value int64
	}{{envTotalTPM, c.TotalTPM}, {envTotalRPM, c.TotalRPM}, {envTotalITPM, c.TotalITPM},
		{envTotalOTPM, c.TotalOTPM}, {envTotalTPD, c.TotalTPD}, {envTotalRPD, c.TotalRPD}} {
		if l.value < 0 {
			bad(l.name, l.value, "must be >= 0 (0 = unlimited)")
		}
	}
	if !(c.APIAllocationPercent > 0 && c.APIAllocationPercent <= 100) {
		bad(envAllocation, c.APIAllocationPercent, "must be above 0 and at most 100")
	}
	if !(c.SafetyBufferPercent >= 0 && c.SafetyBufferPercent < 100) {
		bad(envSafetyBuffer, c.SafetyBufferPercent, "must be at least 0 and below 100")
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{envWindow, c.Window}, {envQuotaWait, c.QuotaWaitDuration}, {envRetention, c.Retention}, {envOpTimeout, c.OpTimeout}} {
		if d.d < minConfigDuration {
			bad(d.name, d.d, "must be at least "+minConfigDuration.String())
		}
	}
	for _, n := range []struct {
		name string
		n    int
	}{{envLowCount, c.BatchLowCount}, {envMediumCount, c.BatchMediumCount}, {envLongCount, c.BatchLongCount}} {
		if n.n < 1 || n.n > maxCycleCount {
			bad(n.name, n.n, fmt.Sprintf("must be 1-%d (a class without a slot would starve)", maxCycleCount))
		}
	}
	if c.MaxEmptyCycles < 0 {
		bad(envMaxEmptyCycles, c.MaxEmptyCycles, "must be >= 0")
	}
	if c.Concurrency < 1 {
		bad(envConcurrency, c.Concurrency, "must be >= 1")
	}
	if !namespacePattern.MatchString(c.Namespace) {
		bad(envNamespace, c.Namespace, "want 1-64 of [A-Za-z0-9_.:-]")
	}
	return errors.Join(errs...)
}

// Budget returns the Budget the Config describes: every limit, the window,
// the allocation and the safety buffer. Build on it rather than on a
// Budget literal, so no variable is dropped on the way.
func (c Config) Budget() Budget {
	buffer := c.SafetyBufferPercent
	if buffer == 0 {
		buffer = -1 // Budget reads 0 as "default"; here it means none.
	}
	return Budget{
		TPM: c.TotalTPM, RPM: c.TotalRPM, ITPM: c.TotalITPM, OTPM: c.TotalOTPM,
		TPD: c.TotalTPD, RPD: c.TotalRPD, Window: c.Window,
		SafetyBufferPercent: buffer, APIAllocationPercent: c.APIAllocationPercent,
	}
}

// ManagerOptions returns the QueueManager options the Config sets:
// namespace, budget, retention and operation timeout.
func (c Config) ManagerOptions() []Option {
	return []Option{
		WithNamespace(c.Namespace),
		WithBudget(c.Budget()),
		WithRetention(c.Retention),
		WithOpTimeout(c.OpTimeout),
	}
}

// BatchOptions returns the BatchProcessor options the Config sets:
// concurrency, cycle, empty cycles and budget wait.
func (c Config) BatchOptions() []BatchOption {
	return []BatchOption{
		WithConcurrency(c.Concurrency),
		WithCycle(c.BatchLowCount, c.BatchMediumCount, c.BatchLongCount),
		WithMaxEmptyCycles(c.MaxEmptyCycles),
		WithMaxBudgetWait(c.QuotaWaitDuration),
	}
}

// configFields has Config's fields without its methods, for printing.
type configFields Config

func (c Config) redacted() configFields {
	if c.RedisPassword != "" {
		c.RedisPassword = "xxxxx"
	}
	c.RedisURL = redactURL(c.RedisURL)
	return configFields(c)
}

// String lists every field, with passwords redacted.
func (c Config) String() string { return fmt.Sprintf("%+v", c.redacted()) }

// GoString is String in Go syntax, so %#v redacts too.
func (c Config) GoString() string {
	return "llmqueue.Config" + strings.TrimPrefix(fmt.Sprintf("%#v", c.redacted()), "llmqueue.configFields")
}

// LogValue makes slog log the Config with passwords redacted.
func (c Config) LogValue() slog.Value { return slog.AnyValue(c.redacted()) }
