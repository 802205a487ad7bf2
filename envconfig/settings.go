package envconfig

import (
	"regexp"

	"errors"
	"fmt"
	"github.com/llmqueue/llmqueue"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything a deployment sets in its environment: where Redis
// is, and the llmqueue.Config and llmqueue.WorkerConfig the variables fill.
// Load reads it:
//
//	env, err := envconfig.Load()
//	if err != nil {
//		return err // names every bad variable
//	}
//	rdb, err := env.NewRedisClient()
//	...
//	qm, err := llmqueue.NewQueueManager(rdb, &env.Manager)
//	...
//	bp, err := llmqueue.NewBatchProcessor(qm, proc, &env.Worker)
//
// Every field holds its resolved value, defaults included, so a Config
// prints what will run; change fields before passing them on.
//
// The variables and the fields they fill:
//
//	REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_DB,   Redis (see Redis)
//	REDIS_PASSWORD, REDIS_MAX_CONNECTIONS,
//	REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE,
//	REDIS_TLS_KEY_FILE, REDIS_SERVICE_HOST/_PORT
//	LLM_QUEUE_NAMESPACE                            Manager.Namespace ("default")
//	LLM_QUEUE_RETENTION                            Manager.Retention (24h)
//	LLM_QUEUE_OP_TIMEOUT                           Manager.OpTimeout (5s)
//	LLM_QUEUE_TOTAL_TPM, _RPM, _ITPM, _OTPM,       Manager.Budget.TPM, RPM, ITPM, OTPM,
//	_TPD, _RPD                                     TPD, RPD (0 = unlimited)
//	LLM_QUEUE_API_ALLOCATION_PERCENT               Manager.Budget.APIAllocationPercent (100)
//	LLM_QUEUE_SAFETY_BUFFER_PERCENT                Manager.Budget.SafetyBufferPercent (10;
//	                                               0 means none, stored as -1)
//	LLM_QUEUE_WINDOW                               Manager.Budget.Window (1m)
//	LLM_QUEUE_BATCH_LOW_COUNT, _MEDIUM_COUNT,      Worker.Cycle (3, 2, 1; 1-1000 each)
//	_LONG_COUNT
//	LLM_QUEUE_MAX_EMPTY_CYCLES                     Worker.MaxEmptyCycles (3)
//	LLM_QUEUE_QUOTA_WAIT_DURATION                  Worker.MaxBudgetWait (1m)
//	LLM_QUEUE_CONCURRENCY                          Worker.Concurrency (10)
//
// Durations are Go durations ("90s", "1m30s") or whole seconds ("60").
//
// A Config may hold a password. String, GoString and LogValue redact it, so
// a Config is safe to print and log.
type Config struct {
	// Redis is where Redis is.
	Redis Redis
	// Manager is the QueueManager's configuration.
	Manager llmqueue.Config
	// Worker is the BatchProcessor's configuration.
	Worker llmqueue.WorkerConfig
}

// Redis is the connection the REDIS_* variables describe.
type Redis struct {
	// URL is REDIS_URL: redis://, rediss:// (TLS) or unix://, with
	// optional user:password@ and /db, as redis.ParseURL reads it. When set,
	// it wins over Host, Port and DB; Password applies only when the URL
	// carries no password. A password holding '#', '/', '?', '@' or '%' must
	// be percent-encoded, and a ?password= option is refused (go-redis reads
	// only the user info); neither error shows any part of the password.
	URL string
	// Host is REDIS_HOST. When that is unset it is the host of a REDIS_PORT
	// of the form tcp://host:port, else REDIS_SERVICE_HOST (what Kubernetes
	// sets for a Service named redis), else "localhost".
	Host string
	// Port is REDIS_PORT: a port number, or tcp://host:port (Kubernetes's
	// form; its port is taken). When unset, REDIS_SERVICE_PORT, else 6379.
	Port int
	// DB is REDIS_DB. Defaults to 0.
	DB int
	// Password is REDIS_PASSWORD. Never printed.
	Password string
	// MaxConnections is REDIS_MAX_CONNECTIONS, the pool size. 0 keeps
	// go-redis's default (10 per CPU).
	MaxConnections int
	// TLSCAFile is REDIS_TLS_CA_FILE: a PEM file of the CAs that sign the
	// server's certificate, for rediss:// to a private CA. Empty uses the
	// system's roots.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are REDIS_TLS_CERT_FILE and
	// REDIS_TLS_KEY_FILE: a client certificate and key, for servers that
	// check clients. Both or neither.
	TLSCertFile string
	TLSKeyFile  string
}

// namespacePattern is the rule NewQueueManager applies, checked here so the
// error names the variable.
var namespacePattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// Upper bounds that keep a typo from exhausting memory or overflowing.
const (
	maxCycleCount     = 1000
	maxRedisPoolSize  = math.MaxInt32
	minConfigDuration = time.Millisecond
)

// Default returns the Config that an empty environment gives.
func Default() Config {
	return Config{
		Redis: Redis{Host: "localhost", Port: 6379},
		Manager: llmqueue.Config{
			Namespace: "default", Retention: 24 * time.Hour, OpTimeout: 5 * time.Second,
			Budget: llmqueue.Budget{
				APIAllocationPercent: 100, SafetyBufferPercent: 10, Window: time.Minute,
			},
		},
		Worker: llmqueue.WorkerConfig{
			Concurrency: 10, Cycle: llmqueue.Cycle{Low: 3, Medium: 2, Long: 1},
			MaxEmptyCycles: 3, MaxBudgetWait: time.Minute,
		},
	}
}

// Load reads the Config from the process environment; see FromLookup.
func Load() (Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads the Config through lookup, which answers like
// os.LookupEnv. An unset or blank variable keeps its default; surrounding
// blanks are trimmed, except from REDIS_PASSWORD. A value that does not
// parse or is out of range is an error naming the variable, never a silent
// default, and all bad variables are reported together (joined with
// errors.Join, each an *EnvError).
// Durations take Go syntax ("90s", "1m30s") or whole seconds ("60").
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	c := Default()
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
		{envRedisURL, str(&c.Redis.URL)},
		// The order gives the precedence: a later variable overwrites an
		// earlier one's host or port (see Config.RedisHost and RedisPort).
		{envServiceHost, str(&c.Redis.Host)},
		{envServicePort, servicePortVar(&c.Redis.Port)},
		{envRedisPort, redisPortVar(&c.Redis.Port, &c.Redis.Host)},
		{envRedisHost, str(&c.Redis.Host)},
		{envRedisDB, intVar(&c.Redis.DB)},
		{envRedisPassword, str(&c.Redis.Password)},
		{envRedisMaxConns, intVar(&c.Redis.MaxConnections)},
		{envRedisTLSCA, str(&c.Redis.TLSCAFile)},
		{envRedisTLSCert, str(&c.Redis.TLSCertFile)},
		{envRedisTLSKey, str(&c.Redis.TLSKeyFile)},
		{envTotalTPM, int64Var(&c.Manager.Budget.TPM)},
		{envTotalRPM, int64Var(&c.Manager.Budget.RPM)},
		{envTotalITPM, int64Var(&c.Manager.Budget.ITPM)},
		{envTotalOTPM, int64Var(&c.Manager.Budget.OTPM)},
		{envTotalTPD, int64Var(&c.Manager.Budget.TPD)},
		{envTotalRPD, int64Var(&c.Manager.Budget.RPD)},
		{envAllocation, floatVar(&c.Manager.Budget.APIAllocationPercent)},
		{envSafetyBuffer, safetyBufferVar(&c.Manager.Budget.SafetyBufferPercent)},
		{envWindow, durationVar(&c.Manager.Budget.Window)},
		{envLowCount, intVar(&c.Worker.Cycle.Low)},
		{envMediumCount, intVar(&c.Worker.Cycle.Medium)},
		{envLongCount, intVar(&c.Worker.Cycle.Long)},
		{envMaxEmptyCycles, intVar(&c.Worker.MaxEmptyCycles)},
		{envQuotaWait, durationVar(&c.Worker.MaxBudgetWait)},
		{envConcurrency, intVar(&c.Worker.Concurrency)},
		{envNamespace, str(&c.Manager.Namespace)},
		{envRetention, durationVar(&c.Manager.Retention)},
		{envOpTimeout, durationVar(&c.Manager.OpTimeout)},
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

// safetyBufferVar reads LLM_QUEUE_SAFETY_BUFFER_PERCENT, where 0 means no
// buffer, into Budget.SafetyBufferPercent, where no buffer is negative (0
// takes the default there).
func safetyBufferVar(p *float64) func(string) string {
	return func(s string) string {
		var f float64
		if reason := floatVar(&f)(s); reason != "" {
			return reason
		}
		switch {
		case f < 0 || f >= 100:
			return "must be at least 0 and below 100"
		case f == 0:
			f = -1
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
// *EnvError naming its variable. FromLookup calls it; call it on a
// Config built in code.
func (c Config) Validate() error { return c.validate() }

func (c Config) validate() error {
	errs := []error{c.validateRedis()}
	if c.Redis.TLSCertFile == "" || c.Redis.TLSKeyFile != "" {
		// Read the TLS files now, so Load names a missing or bad
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
	}{{envTotalTPM, c.Manager.Budget.TPM}, {envTotalRPM, c.Manager.Budget.RPM}, {envTotalITPM, c.Manager.Budget.ITPM},
		{envTotalOTPM, c.Manager.Budget.OTPM}, {envTotalTPD, c.Manager.Budget.TPD}, {envTotalRPD, c.Manager.Budget.RPD}} {
		if l.value < 0 {
			bad(l.name, l.value, "must be >= 0 (0 = unlimited)")
		}
	}
	if !(c.Manager.Budget.APIAllocationPercent > 0 && c.Manager.Budget.APIAllocationPercent <= 100) {
		bad(envAllocation, c.Manager.Budget.APIAllocationPercent, "must be above 0 and at most 100")
	}
	if !(c.Manager.Budget.SafetyBufferPercent >= -1 && c.Manager.Budget.SafetyBufferPercent < 100) {
		bad(envSafetyBuffer, c.Manager.Budget.SafetyBufferPercent, "must be at least 0 and below 100")
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{envWindow, c.Manager.Budget.Window}, {envQuotaWait, c.Worker.MaxBudgetWait}, {envRetention, c.Manager.Retention}, {envOpTimeout, c.Manager.OpTimeout}} {
		if d.d < minConfigDuration {
			bad(d.name, d.d, "must be at least "+minConfigDuration.String())
		}
	}
	for _, n := range []struct {
		name string
		n    int
	}{{envLowCount, c.Worker.Cycle.Low}, {envMediumCount, c.Worker.Cycle.Medium}, {envLongCount, c.Worker.Cycle.Long}} {
		if n.n < 1 || n.n > maxCycleCount {
			bad(n.name, n.n, fmt.Sprintf("must be 1-%d (a class without a slot would starve)", maxCycleCount))
		}
	}
	if c.Worker.MaxEmptyCycles < 0 {
		bad(envMaxEmptyCycles, c.Worker.MaxEmptyCycles, "must be >= 0")
	}
	if c.Worker.Concurrency < 1 {
		bad(envConcurrency, c.Worker.Concurrency, "must be >= 1")
	}
	if !namespacePattern.MatchString(c.Manager.Namespace) {
		bad(envNamespace, c.Manager.Namespace, "want 1-64 of [A-Za-z0-9_.:-]")
	}
	return errors.Join(errs...)
}

// configFields has Config's fields without its methods, for printing.
type configFields Config

func (c Config) redacted() configFields {
	if c.Redis.Password != "" {
		c.Redis.Password = "xxxxx"
	}
	c.Redis.URL = redactURL(c.Redis.URL)
	return configFields(c)
}

// String lists every field, with passwords redacted.
func (c Config) String() string { return fmt.Sprintf("%+v", c.redacted()) }

// GoString is String in Go syntax, so %#v redacts too.
func (c Config) GoString() string {
	return "envconfig.Config" + strings.TrimPrefix(fmt.Sprintf("%#v", c.redacted()), "envconfig.configFields")
}

// LogValue makes slog log what the variables set, with passwords
// redacted (the rest of a Config, such as a Logger or hooks, has no
// printable form).
func (c Config) LogValue() slog.Value {
	r := c.redacted()
	b, w := r.Manager.Budget, r.Worker
	return slog.GroupValue(
		slog.Group("redis", "url", r.Redis.URL, "host", r.Redis.Host, "port", r.Redis.Port, "db", r.Redis.DB,
			"password", r.Redis.Password, "max_connections", r.Redis.MaxConnections,
			"tls_ca_file", r.Redis.TLSCAFile, "tls_cert_file", r.Redis.TLSCertFile),
		slog.String("namespace", r.Manager.Namespace),
		slog.String("retention", r.Manager.Retention.String()),
		slog.String("op_timeout", r.Manager.OpTimeout.String()),
		slog.Group("budget", "tpm", b.TPM, "rpm", b.RPM, "itpm", b.ITPM, "otpm", b.OTPM, "tpd", b.TPD, "rpd", b.RPD,
			"window", b.Window.String(), "api_allocation_percent", b.APIAllocationPercent,
			"safety_buffer_percent", b.SafetyBufferPercent),
		slog.Group("worker", "concurrency", w.Concurrency, "cycle", w.Cycle.String(),
			"max_empty_cycles", w.MaxEmptyCycles, "max_budget_wait", w.MaxBudgetWait.String()),
	)
}
