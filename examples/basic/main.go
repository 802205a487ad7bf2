// Command basic runs llmqueue end to end in a few seconds: it queues a mix
// of low, medium and long requests, processes them with an echo processor
// under a deliberately small token budget, and prints what happened.
//
// With REDIS_URL unset it starts an embedded in-process Redis (miniredis),
// so it needs nothing installed:
//
//	go run ./examples/basic
//
// With REDIS_URL set it connects there, reading the rest of the
// configuration from the environment (envconfig.Load). The demo
// pins its own budget (250,000 tokens per 2-second window) so the throttling
// shows, and unless LLM_QUEUE_NAMESPACE is set it works in a fresh namespace
// of its own, so it never touches another application's requests.
package main

import (
	"context"
	"encoding/json"
	"errors"
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
)

// demoBudget is small and short on purpose: usable = 250,000 x 90% =
// 225,000 tokens per 2 seconds, less than the 264,000 the demo queues.
var demoBudget = llmqueue.Budget{TPM: 250_000, Window: 2 * time.Second}

// demoRequests is the mix the demo queues, in the order it queues them.
var demoRequests = []struct {
	class  string
	count  int
	tokens int64
}{
	{"low", 12, 2_000},
	{"medium", 4, 20_000},
	{"long", 2, 80_000},
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "basic:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
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

	mc := cfg.Manager
	mc.Budget, mc.Retention = demoBudget, time.Hour
	if os.Getenv("LLM_QUEUE_NAMESPACE") == "" {
		mc.Namespace = "example-basic-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	qm, err := llmqueue.NewQueueManager(conn.Client, &mc)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "namespace %q, budget %s\n", qm.Namespace(), qm.Budget())

	// Queue everything first, so the cycle has all three classes to choose from.
	var reqs []*llmqueue.Request
	var names []string
	for _, d := range demoRequests {
		for i := 1; i <= d.count; i++ {
			name := fmt.Sprintf("%s-%02d", d.class, i)
			names = append(names, name)
			reqs = append(reqs, llmqueue.NewRequest(
				map[string]any{"name": name, "prompt": "Say hello to " + name},
				llmqueue.WithEstimatedTokens(d.tokens)))
		}
	}
	ids, err := qm.AddMany(ctx, reqs)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "queued %d requests (12 low x 2,000, 4 medium x 20,000, 2 long x 80,000 = 264,000 tokens)\n\n", len(ids))

	echo := &echoProcessor{qm: qm, out: out, start: time.Now()}
	// One at a time, so the printed order is exactly the lease order and the
	// 3-2-1 cycle is easy to read; real deployments run many at once.
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
		_ = bp.Shutdown(sctx) // a no-op (ErrClosed) after the shutdown below
	}()

	// WaitEach yields each request as it finishes, whatever the order,
	// with no goroutine per request: the progress line follows the run.
	prog := newProgress(out, &echo.mu, len(ids))
	byID := map[string]*llmqueue.RequestStatus{}
	for st, err := range qm.WaitEach(ctx, ids) {
		if err != nil {
			return err
		}
		byID[st.ID] = st
		prog.finished(st)
	}
	final := make([]*llmqueue.RequestStatus, len(ids))
	for i, id := range ids {
		final[i] = byID[id]
	}
	fmt.Fprintf(out, "\nall %d requests finished in %s; start order: %s\n\n",
		len(ids), time.Since(echo.start).Round(time.Millisecond), echo.order())
	for i, st := range final {
		fmt.Fprintf(out, "%-10s %-9s %-6s est=%6d used=%6d attempts=%d took=%s\n",
			names[i], st.Status, st.Priority, st.EstimatedTokens, st.Usage.Total(), st.Attempts,
			st.FinishedAt.Sub(st.StartedAt).Round(time.Millisecond))
	}

	m, err := qm.Metrics(ctx)
	if err != nil {
		return err
	}
	if err := printJSON(out, "metrics", m); err != nil {
		return err
	}
	if err := printJSON(out, "processor status", bp.Status()); err != nil {
		return err
	}

	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := bp.Shutdown(sctx); err != nil {
		return err
	}
	for _, st := range final {
		if st.Status != llmqueue.StatusCompleted {
			return fmt.Errorf("request %s ended %s: %s", st.ID, st.Status, st.Error)
		}
	}
	fmt.Fprintln(out, "\nshut down cleanly")
	return nil
}

// echoProcessor stands in for an LLM call: it waits 50ms, answers with the
// payload, and reports the estimate as the usage. Before each call it
// prints the start and the tokens the shared ledger holds for the window.
type echoProcessor struct {
	qm    *llmqueue.QueueManager
	out   io.Writer
	start time.Time

	mu     sync.Mutex
	starts []llmqueue.Priority
	last   time.Time
}

func (e *echoProcessor) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	var p struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return nil, llmqueue.Permanent(err)
	}
	m, err := e.qm.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	now := time.Now()
	if !e.last.IsZero() && now.Sub(e.last) > 500*time.Millisecond {
		fmt.Fprintf(e.out, "           ... budget full: waited %s for the window to free up\n",
			now.Sub(e.last).Round(10*time.Millisecond))
	}
	e.last = now
	e.starts = append(e.starts, job.Priority)
	fmt.Fprintf(e.out, "[%5.2fs] start %-6s %-10s %6d tokens | window: %6d / %d tokens reserved\n",
		now.Sub(e.start).Seconds(), job.Priority, p.Name, job.EstimatedTokens,
		m.TokenUsage.Used, m.TokenUsage.Limit)
	e.mu.Unlock()

	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &llmqueue.Result{
		Output: job.Payload,
		Usage:  llmqueue.Usage{InputTokens: job.EstimatedTokens},
	}, nil
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

func printJSON(out io.Writer, title string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return errors.Join(fmt.Errorf("marshal %s", title), err)
	}
	_, err = fmt.Fprintf(out, "\n%s:\n%s\n", title, b)
	return err
}
