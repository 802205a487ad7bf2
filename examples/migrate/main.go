// Command migrate shows what an environment written for the Python
// package llm-queue-task-manager does under llmqueue, then runs a small
// batch with it.
//
//	go run ./examples/migrate -env testdata/seed.env
//
// It reads the env file (NAME=VALUE lines, '#' comments, optional quotes
// and "export ", as python-dotenv reads them), and prints, for each
// variable, its value in the file, what the Python package made of it and
// what llmqueue makes of it: the Config that envconfig.FromLookup
// reads from the file's values alone, not from the process environment.
// Then the notes of envconfig.MigrationNotes, which LogMigrationNotes logs at
// a deployment's start-up. testdata/seed.env holds the Python README's
// variables.
//
// Then it queues 12 requests (6 low, 4 medium, 2 long) in a fresh
// namespace of its own, processes them under the file's budget and cycle
// with an echo processor, one at a time so the 3-2-1 order shows, and
// prints the outcome. Its Redis is the file's; when none answers there, it
// starts an embedded in-process Redis (miniredis) instead and says so.
// The exit status is 0 when every request completed.
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
	"strings"
	"sync"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/devredis"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/redis/go-redis/v9"
)

// batch is what the demo queues, in the order it queues it.
var batch = []struct {
	class  llmqueue.Priority
	count  int
	tokens int64
}{
	{llmqueue.PriorityLow, 6, 2_000},
	{llmqueue.PriorityMedium, 4, 20_000},
	{llmqueue.PriorityLong, 2, 80_000},
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	// go-redis logs each failed dial itself; when the file's Redis is not
	// there, run says so in one line and uses an embedded one.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(out)
	path := fs.String("env", "testdata/seed.env", "the env file to read (as given, relative to the working directory)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on the batch after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	file, err := os.Open(*path)
	if err != nil {
		return err
	}
	env, err := parseEnvFile(file)
	file.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	fmt.Fprintf(out, "%s: %d variables\n\n", *path, len(env.names))

	cfg, cfgErr := envconfig.FromLookup(env.lookup)
	if err := printTable(out, env, cfg); err != nil {
		return err
	}
	if cfgErr != nil {
		return fmt.Errorf("llmqueue refuses the file:\n%w", cfgErr)
	}
	notes := envconfig.MigrationNotes(env.lookup)
	fmt.Fprintf(out, "\nmigration notes (%d), as envconfig.LogMigrationNotes logs them at start-up:\n", len(notes))
	for _, n := range notes {
		what := n.Variable + "=" + n.Value
		if !n.Set {
			what = n.Variable + " unset"
		}
		fmt.Fprintf(out, "  [%s] %s\n    python:   %s\n    llmqueue: %s\n", n.Level, what, n.Python, n.LLMQueue)
	}
	return runBatch(ctx, out, env, cfg)
}

// connect returns the file's Redis when it answers, else an embedded one.
func connect(ctx context.Context, out io.Writer, cfg envconfig.Config) (*devredis.Conn, error) {
	conn, err := devredis.Connect(cfg, true)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	pingErr := conn.Client.Ping(pctx).Err()
	cancel()
	if pingErr == nil {
		fmt.Fprintf(out, "\nusing the file's Redis at %s\n", conn.Addr)
		return conn, nil
	}
	addr := conn.Addr
	conn.Close()
	if conn, err = devredis.Connect(cfg, false); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "\nno Redis answered at %s (%v):\nusing an embedded in-process Redis (miniredis) at %s; its data is lost on exit\n",
		addr, pingErr, conn.Addr)
	return conn, nil
}

// runBatch queues the batch in a fresh namespace and processes it with
// the Config's options.
func runBatch(ctx context.Context, out io.Writer, env envFile, cfg envconfig.Config) error {
	conn, err := connect(ctx, out, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	ns := "example-migrate-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	mc := cfg.Manager
	mc.Namespace, mc.Retention = ns, time.Hour
	qm, err := llmqueue.NewQueueManager(conn.Client, &mc)
	if err != nil {
		return err
	}
	if usable, ok := pythonUsable(env); ok {
		fmt.Fprintf(out, "budget, llm-queue-task-manager: %d tokens per calendar minute (usable)\n", usable)
	}
	fmt.Fprintf(out, "budget, llmqueue:               %s\n", qm.Budget())
	var reqs []*llmqueue.Request
	for _, b := range batch {
		for i := 1; i <= b.count; i++ {
			reqs = append(reqs, llmqueue.NewRequest(
				map[string]any{"prompt": fmt.Sprintf("%s request %d", b.class, i)},
				llmqueue.WithEstimatedTokens(b.tokens)))
		}
	}
	ids, err := qm.AddMany(ctx, reqs)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "queued %d requests in namespace %q: 6 low x 2,000, 4 medium x 20,000, 2 long x 80,000 tokens\n",
		len(ids), ns)

	echo := &echoProcessor{}
	// One at a time, so the start order is the cycle's order.
	wc := cfg.Worker
	wc.Concurrency = 1
	bp, err := llmqueue.NewBatchProcessor(qm, echo, &wc)
	if err != nil {
		return err
	}
	if err := bp.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = bp.Shutdown(sctx) // ErrClosed after the shutdown below
	}()
	var failed []string
	for _, id := range ids {
		st, err := qm.Wait(ctx, id)
		if err != nil {
			return err
		}
		if st.Status != llmqueue.StatusCompleted {
			failed = append(failed, fmt.Sprintf("%s ended %s: %s", id, st.Status, st.Error))
		}
	}
	m, err := qm.Metrics(ctx)
	if err != nil {
		return err
	}
	ps := bp.Status()
	fmt.Fprintf(out, "start order: %s (cycle %v)\n", echo.order(), ps.CycleSequence)
	fmt.Fprintf(out, "metrics: %d completed, %d failed; token_usage: current_usage %d, available %d, utilization %.2f%%\n",
		m.TotalCompleted, m.TotalFailed, m.TokenUsage.CurrentUsage, m.TokenUsage.Available, m.TokenUsage.UtilizationPercent)
	fmt.Fprintf(out, "processor: health_status %s, total_requests_processed %d\n", ps.HealthStatus, ps.TotalRequestsProcessed)

	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := bp.Shutdown(sctx); err != nil {
		return err
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "\n"))
	}
	fmt.Fprintln(out, "all requests completed; shut down cleanly")
	return nil
}

// quietLogger drops go-redis's own log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// echoProcessor stands in for an LLM call: it answers with the payload
// after 10ms and reports the estimate as the usage.
type echoProcessor struct {
	mu     sync.Mutex
	starts []llmqueue.Priority
}

func (e *echoProcessor) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	e.mu.Lock()
	e.starts = append(e.starts, job.Priority)
	e.mu.Unlock()
	select {
	case <-time.After(10 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &llmqueue.Result{Output: job.Payload, Usage: llmqueue.Usage{InputTokens: job.EstimatedTokens}}, nil
}

// order abbreviates the start order, one letter per start: L, M, G (long).
func (e *echoProcessor) order() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, p := range e.starts {
		b.WriteByte(map[llmqueue.Priority]byte{llmqueue.PriorityLow: 'L', llmqueue.PriorityMedium: 'M', llmqueue.PriorityLong: 'G'}[p])
	}
	return b.String()
}
