// Command router shows a Router serving one namespace on three
// deployments of one model, against fake OpenAI-compatible servers on
// loopback:
//
//	go run ./examples/router -fake
//
// The three fake servers enforce TPM 20,000, 40,000 and 60,000 tokens per
// 10-second window (-window changes it); the second fails every other call
// with a 500. The demo queues a burst of 300 chat requests (-n), runs a
// Router over the three with the providers/openai Processor pointed at each,
// and prints, per deployment, the calls it served, the tokens its server
// accepted, the busiest window against its limit, and the peak of its ledger
// (Router.Usage); then the failovers (the WARN lines "deployment failed"),
// when they happened, and that every request completed on its first attempt:
// a failover hands the request to another deployment without spending a
// retry.
//
// Redis is REDIS_URL, or an embedded miniredis when it is unset
// (package devredis); the demo works in a fresh namespace of its own unless
// LLM_QUEUE_NAMESPACE is set. Without -fake it only says how to run it: it
// never calls a real API. examples/worker runs a Router over real
// deployments (-deployments FILE).
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
	"strconv"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/devredis"
	"github.com/llmqueue/llmqueue/envconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the demo's flags.
type options struct {
	fake   bool
	n      int
	window time.Duration
}

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.fake, "fake", false, "run against three fake OpenAI-compatible servers on loopback")
	fs.IntVar(&o.n, "n", 300, "requests in the burst")
	fs.DurationVar(&o.window, "window", 10*time.Second, "the fake servers' rate-limit window")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "router: unexpected arguments %q\n", fs.Args())
		return 2
	case !o.fake:
		fmt.Fprintln(stderr, "router: this demo runs only against fake servers: go run ./examples/router -fake\n"+
			"(examples/worker -deployments FILE runs a Router over real deployments)")
		return 2
	case o.n < 1 || o.window < 100*time.Millisecond:
		fmt.Fprintln(stderr, "router: -n must be at least 1 and -window at least 100ms")
		return 2
	}
	if err := demo(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "router:", err)
		return 1
	}
	return 0
}

// demo runs the burst and prints the report.
func demo(ctx context.Context, o options, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+20*o.window)
	defer cancel()
	cfg, err := envconfig.Load()
	if err != nil {
		return err
	}
	conn, err := devredis.Connect(cfg, cfg.Redis.URL != "")
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Fprintln(out, conn.Describe())

	fakes, err := startFakes(o.window)
	if err != nil {
		return err
	}
	defer fakes.close()

	// The failovers are the WARN lines "deployment failed"; the counter
	// keeps them and passes every record to a text handler on stderr at
	// ERROR, so the demo's output stays the report.
	failovers := newFailoverLog(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	log := slog.New(failovers)

	mc := cfg.Manager
	// The largest deployment's limits, so Add refuses what none could afford.
	mc.Budget = llmqueue.Budget{TPM: fakes.deps[len(fakes.deps)-1].limit, Window: o.window, SafetyBufferPercent: -1}
	mc.Retention, mc.Logger, mc.Estimator, mc.Validator = time.Hour, log, fakes.estimator, fakes.estimator
	if os.Getenv("LLM_QUEUE_NAMESPACE") == "" {
		mc.Namespace = "example-router-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	qm, err := llmqueue.NewQueueManager(conn.Client, &mc)
	if err != nil {
		return err
	}
	r, err := llmqueue.NewRouter(qm, fakes.deployments(o.window), &llmqueue.WorkerConfig{
		Concurrency: 16, PollInterval: 20 * time.Millisecond, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "namespace %q: %d deployments, window %s\n", qm.Namespace(), len(fakes.deps), o.window)
	for _, d := range fakes.deps {
		note := ""
		if d.failing {
			note = " (fails every other call with a 500)"
		}
		fmt.Fprintf(out, "  %-8s TPM %6d per window%s\n", d.name, d.limit, note)
	}

	ids, err := qm.AddMany(ctx, burst(o.n))
	if err != nil {
		return err
	}
	start := time.Now()
	failovers.start = start
	fmt.Fprintf(out, "queued %d requests\n\n", len(ids))
	if err := r.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = r.Shutdown(sctx)
	}()
	sampler := sampleUsage(ctx, r)

	final, err := qm.WaitAll(ctx, ids)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	peaks := sampler()
	return report(ctx, out, qm, final, elapsed, fakes, peaks, failovers, o.window)
}
