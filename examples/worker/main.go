// Command worker is a standalone llmqueue worker process, like an RQ
// worker: it leases requests from one namespace in Redis and runs them
// through a processor until it gets SIGINT or SIGTERM. Run as many as you
// like, on as many hosts as you like; they share the namespace's queues,
// budget and 3-2-1 cycle through Redis.
//
// On the first signal it stops leasing and gives the requests in flight
// the grace period to finish. Whatever still runs when the grace period
// ends is canceled and handed back to the queue, where another worker
// takes it at once; the interrupted attempt does not count against the
// request's retries. A second signal ends the grace period at once. A
// worker that dies without a shutdown (SIGKILL, a crash, a lost host)
// loses nothing either: its leases expire and other workers recover the
// requests.
//
// Usage:
//
//	REDIS_URL=redis://127.0.0.1:6379/0 worker [flags]
//
// Redis and the queue settings come from the environment as
// envconfig.Load reads it: REDIS_URL (or REDIS_HOST, REDIS_PORT,
// REDIS_DB, REDIS_PASSWORD), LLM_QUEUE_TOTAL_TPM, LLM_QUEUE_NAMESPACE,
// LLM_QUEUE_CONCURRENCY and the rest. Flags override the environment:
//
//	-processor echo|sleep  the processor to run (default echo)
//	-concurrency N         requests run at once by this process
//	                       (default LLM_QUEUE_CONCURRENCY, else 10)
//	-namespace NS          the queue namespace
//	                       (default LLM_QUEUE_NAMESPACE, else "default")
//	-grace D               shutdown grace period (default 30s)
//	-lease D               lease duration; a dead worker's requests are
//	                       recovered after this long (default 30s)
//	-poll D                longest idle sleep when the queues are empty (default 1s)
//	-start-timeout D       give up when Redis has not answered for this long
//	                       at start-up (default 0: wait until a signal)
//	-record FILE           append "id attempt pid" to FILE after every
//	                       successful processor run (for tests)
//	-deployments FILE      run a Router over the deployments in FILE
//	                       (default LLM_QUEUE_DEPLOYMENTS_FILE)
//
// The two processors stand in for an LLM call: echo answers with the
// payload, sleep waits for the payload's "sleep_ms" (honouring
// cancellation). A real deployment builds the same program around its own
// Processor, for example providers/openai.
//
// # Deployments
//
// With -deployments FILE, or LLM_QUEUE_DEPLOYMENTS_FILE set, the worker
// runs a llmqueue.Router instead of one BatchProcessor: the JSON file lists
// the deployments of the namespace's model (OpenAI organisations, Anthropic
// keys, Bedrock regions, with their limits and which are fallbacks; see
// package deployconfig), and each deployment leases against its own budget
// and cool-down, so together they run at the sum of their limits and a
// failing one hands its requests to the others. -processor and -record do
// not apply: each deployment calls its provider. Every worker of the
// namespace must be given the same file. Signals and the grace period work
// as above, for every deployment at once. A file that cannot be read or
// is wrong exits 2 and names each problem; API keys come from the
// variables the file names and are never logged.
//
// A worker started while Redis is down (or still loading its data) does not
// exit: it logs each failed attempt and retries with backoff (100ms doubling
// to 5s), as a running worker does when Redis goes away, until Redis
// answers, a signal arrives (exit 0, nothing was started) or -start-timeout
// passes (exit 1).
//
// Logs are JSON lines (log/slog) on stderr; the first ones name the
// variables that meant something else to llm-queue-task-manager
// (envconfig.LogMigrationNotes). The exit status is 0 after a
// clean shutdown (handing work back is clean), 1 when the worker cannot
// start or shut down, and 2 for bad flags or a bad environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/deployconfig"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis's own complaints (dial failures, pool trouble) become JSON
	// lines too. Set here, not in run, because it is global.
	redis.SetLogger(redisLogger{slog.New(slog.NewJSONHandler(os.Stderr, nil))})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stderr, sigs))
}

// options are the worker's command-line settings.
type options struct {
	grace       time.Duration
	concurrency int
	namespace   string
	processor   string
	record      string
	lease       time.Duration
	poll        time.Duration
	// startTimeout bounds the wait for Redis at start-up; 0 waits until a
	// signal.
	startTimeout time.Duration
	// deployments, when set, is the deployments file a Router runs.
	deployments string
}

// parseFlags reads args, taking defaults from cfg; usage and errors go to
// stderr.
func parseFlags(args []string, cfg envconfig.Config, deploymentsFile string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.grace, "grace", 30*time.Second, "shutdown grace period for in-flight requests")
	fs.IntVar(&o.concurrency, "concurrency", cfg.Worker.Concurrency, "requests run at once")
	fs.StringVar(&o.namespace, "namespace", cfg.Manager.Namespace, "queue namespace")
	fs.StringVar(&o.processor, "processor", "echo", "processor: echo or sleep")
	fs.StringVar(&o.record, "record", "", `append "id attempt pid" per successful run to this file`)
	fs.DurationVar(&o.lease, "lease", 30*time.Second, "lease duration (the library default)")
	fs.DurationVar(&o.poll, "poll", time.Second, "longest idle sleep (the library default)")
	fs.DurationVar(&o.startTimeout, "start-timeout", 0, "give up when Redis has not answered for this long at start-up (0: wait until a signal)")
	fs.StringVar(&o.deployments, "deployments", deploymentsFile, "run a Router over the deployments in this JSON file (default "+deployconfig.EnvFile+")")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.deployments != "" && o.record != "" {
		return o, errors.New("-record does not apply with -deployments")
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.grace < 0:
		return o, fmt.Errorf("-grace %s: must not be negative", o.grace)
	case o.startTimeout < 0:
		return o, fmt.Errorf("-start-timeout %s: must not be negative", o.startTimeout)
	}
	if _, err := newProcessor(o.processor); err != nil {
		return o, fmt.Errorf("-processor: %w", err)
	}
	return o, nil
}

// run is the whole program: it returns the exit status once the worker
// has shut down after a value on sigs. lookup reads the environment.
func run(args []string, lookup func(string) (string, bool), stderr io.Writer, sigs <-chan os.Signal) int {
	cfg, err := envconfig.FromLookup(lookup)
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err) // names each bad variable, passwords redacted
		return 2
	}
	file, _ := lookup(deployconfig.EnvFile)
	o, err := parseFlags(args, cfg, file, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	var deps *deployconfig.Config
	if o.deployments != "" {
		getenv := func(k string) string { v, _ := lookup(k); return v }
		f, err := os.Open(o.deployments)
		if err == nil {
			deps, err = deployconfig.Parse(f, getenv)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "worker: deployments file %s: %v\n", o.deployments, err)
			return 2
		}
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	// Variables that meant something else to llm-queue-task-manager.
	envconfig.LogMigrationNotes(log, lookup)
	if err := work(cfg, o, deps, log, sigs); err != nil {
		log.Error("worker failed", "error", err)
		return 1
	}
	return 0
}

// work starts the BatchProcessor, or a Router over the deployments of deps
// when there is a deployments file (priced at its prices, if any), waits
// for a signal and shuts it down.
func work(cfg envconfig.Config, o options, deps *deployconfig.Config, log *slog.Logger, sigs <-chan os.Signal) error {
	rdb, err := cfg.NewRedisClient()
	if err != nil {
		return err
	}
	defer rdb.Close()
	if stopped, err := awaitRedis(rdb, cfg.Manager.OpTimeout, o.startTimeout, log, sigs); err != nil {
		return fmt.Errorf("redis: %w", err)
	} else if stopped {
		return nil
	}

	mc := cfg.Manager
	mc.Namespace, mc.Logger = o.namespace, log
	if deps != nil && deps.Prices != nil {
		mc.Prices = deps.Prices
	}
	qm, err := llmqueue.NewQueueManager(rdb, &mc)
	if err != nil {
		return err
	}
	wc := cfg.Worker
	wc.Concurrency, wc.Lease, wc.PollInterval, wc.Logger = o.concurrency, o.lease, o.poll, log
	var w runner
	if deps != nil {
		r, err := llmqueue.NewRouter(qm, deps.Deployments, &wc)
		if err != nil {
			return err
		}
		w = routerRunner{r}
	} else {
		proc, err := newProcessor(o.processor)
		if err != nil {
			return err
		}
		if o.record != "" {
			rec, err := openRecorder(o.record)
			if err != nil {
				return fmt.Errorf("record: %w", err)
			}
			defer func() {
				if err := rec.Close(); err != nil {
					log.Error("closing the record file", "error", err)
				}
			}()
			proc = rec.wrap(proc)
		}
		bp, err := llmqueue.NewBatchProcessor(qm, proc, &wc)
		if err != nil {
			return err
		}
		w = batchRunner{bp}
	}
	if err := w.Start(context.Background()); err != nil {
		return err
	}
	attrs := []any{"worker_id", w.workerID(), "pid", os.Getpid(),
		"namespace", o.namespace, "concurrency", o.concurrency,
		"lease", o.lease.String(), "grace", o.grace.String(), "config", cfg}
	if deps != nil {
		attrs = append(attrs, "deployments_file", o.deployments, "deployments", deploymentNames(deps.Deployments))
	} else {
		attrs = append(attrs, "processor", o.processor)
	}
	log.Info("worker started", attrs...)

	sig := <-sigs
	log.Info("shutting down", "signal", sig.String(), "grace", o.grace.String(),
		"in_flight", w.status().InFlight)
	ctx, cancelGrace := context.WithTimeout(context.Background(), o.grace)
	defer cancelGrace()
	go func() {
		select {
		case s := <-sigs:
			log.Warn("second signal: handing in-flight requests back now", "signal", s.String())
			cancelGrace()
		case <-ctx.Done():
		}
	}()
	err = w.Shutdown(ctx)
	st := w.status()
	attrs = []any{"processed", st.TotalRequestsProcessed, "completed", st.Completed,
		"failed", st.Failed, "stale_acks", st.StaleAcks}
	switch {
	case err == nil:
		log.Info("worker stopped", attrs...)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// Handing work back past the grace period is a clean shutdown.
		log.Warn("worker stopped; requests past the grace period were handed back",
			append(attrs, "detail", err.Error())...)
	default:
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// awaitRedis waits until Redis answers PING (see waitForRedis). A signal
// meanwhile ends the wait with stopped true: nothing has started, so there
// is nothing to shut down. startTimeout, when above 0, ends it with an
// error.
func awaitRedis(rdb redis.UniversalClient, opTimeout, startTimeout time.Duration, log *slog.Logger,
	sigs <-chan os.Signal) (stopped bool, err error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	if startTimeout > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeoutCause(ctx, startTimeout,
			fmt.Errorf("-start-timeout %s passed", startTimeout))
		defer cancelTimeout()
	}
	// The watcher hands a signal to the wait only while it lasts; after it,
	// work's own select must see the next one.
	var sig os.Signal
	waited, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case sig = <-sigs:
			cancel(fmt.Errorf("signal %s", sig))
		case <-waited:
		}
	}()
	err = waitForRedis(ctx, func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
		opTimeout, startupBackoff, log)
	close(waited)
	<-watched
	if sig != nil {
		log.Info("stopped before starting", "signal", sig.String())
		return true, nil
	}
	return false, err
}

// redisLogger hands go-redis's internal log lines to slog, so that
// everything on stderr is JSON.
type redisLogger struct{ log *slog.Logger }

// Printf logs one go-redis message as a warning.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}
