// Command anthropic queues Anthropic Messages API calls through llmqueue
// with the providers/anthropic adapter.
//
// With -fake it needs nothing installed and no key: it starts an in-process
// server that speaks the Messages API and meters calls like Anthropic
// (providertest.NewAnthropicServer): input tokens per window (ITPM) charged
// at arrival, output tokens per window (OTPM) charged from max_tokens at
// arrival and settled to the real output when the reply ends. It gives the
// queue the same limits, runs a burst of requests through it, and prints how
// many calls the server saw, how many 429s it sent (none: the queue kept
// under the limits), the busiest window the server measured, and the wall
// time:
//
//	go run ./examples/anthropic -fake
//
// Without -fake it calls the real API with ANTHROPIC_API_KEY
// (ANTHROPIC_BASE_URL points it at another server), under the limits of
// -itpm, -otpm and -rpm (or LLM_QUEUE_TOTAL_TPM and LLM_QUEUE_TOTAL_RPM), and
// prints each reply:
//
//	ANTHROPIC_API_KEY=sk-ant-... go run ./examples/anthropic -n 3 -itpm 50000 -otpm 10000 -rpm 50
//
// Redis: REDIS_URL when set (with the rest of envconfig.Load),
// else an embedded in-process miniredis.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/devredis"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/llmqueue/llmqueue/providers/anthropic"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "anthropic:", err)
		os.Exit(1)
	}
}

// settings are the command-line flags.
type settings struct {
	fake            bool
	n               int
	model           string
	maxTokens       int
	itpm, otpm, rpm int64
	window          time.Duration
	concurrency     int
	outputFraction  float64
}

func parse(args []string) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("anthropic", flag.ContinueOnError)
	fs.BoolVar(&s.fake, "fake", false, "use an in-process fake Anthropic server with ITPM and OTPM limits instead of the real API")
	fs.IntVar(&s.n, "n", 0, "requests to queue (default 60 with -fake, 3 otherwise)")
	fs.StringVar(&s.model, "model", string(sdk.ModelClaudeHaiku4_5), "model to call")
	fs.IntVar(&s.maxTokens, "max-tokens", 100, "max_tokens of each request")
	fs.Int64Var(&s.itpm, "itpm", 0, "input-token limit per window (default 1000 with -fake)")
	fs.Int64Var(&s.otpm, "otpm", 0, "output-token limit per window (default 2000 with -fake)")
	fs.Int64Var(&s.rpm, "rpm", 0, "request limit per window (otherwise LLM_QUEUE_TOTAL_RPM)")
	fs.DurationVar(&s.window, "window", 0, "rate-limit window (default 5s with -fake, so the demo is quick; otherwise LLM_QUEUE_WINDOW or 1m)")
	fs.IntVar(&s.concurrency, "concurrency", 16, "requests in flight at once")
	fs.Float64Var(&s.outputFraction, "fake-output", 0.5, "with -fake: the share of max_tokens each reply uses")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if s.n == 0 {
		s.n = map[bool]int{true: 60, false: 3}[s.fake]
	}
	if s.fake {
		s.itpm = cmpOr(s.itpm, 1000)
		s.otpm = cmpOr(s.otpm, 2000)
		s.window = cmpOr(s.window, 5*time.Second)
	}
	if s.n < 1 || s.maxTokens < 1 || s.concurrency < 1 || s.itpm < 0 || s.otpm < 0 || s.rpm < 0 || s.window < 0 ||
		s.outputFraction < 0 || s.outputFraction > 1 {
		return s, errors.New("-n, -max-tokens and -concurrency must be positive; -itpm, -otpm, -rpm and -window not negative; -fake-output in [0, 1]")
	}
	return s, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	s, err := parse(args)
	if err != nil {
		return err
	}
	cfg, err := envconfig.Load()
	if err != nil {
		return err
	}
	if !s.fake && os.Getenv("ANTHROPIC_API_KEY") == "" {
		return errors.New("ANTHROPIC_API_KEY is not set; run with -fake to use the in-process server")
	}
	conn, err := devredis.Connect(cfg, cfg.Redis.URL != "")
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Fprintln(out, conn.Describe())

	budget := cfg.Manager.Budget
	var proc *anthropic.Processor
	var srv *providertest.AnthropicServer
	if s.fake {
		srv = providertest.NewAnthropicServer(providertest.AnthropicOptions{
			Limits:         providertest.Limits{ITPM: s.itpm, OTPM: s.otpm, RPM: s.rpm, Window: s.window},
			APIKey:         "sk-ant-fake",
			Latency:        50 * time.Millisecond,
			OutputFraction: s.outputFraction,
		})
		defer srv.Close()
		fmt.Fprintf(out, "fake Anthropic server at %s: %d input and %d output tokens per %s, metered like Anthropic "+
			"(input at arrival; max_tokens at arrival, settled to the real output)\n", srv.BaseURL(), s.itpm, s.otpm, s.window)
		proc, err = anthropic.New(anthropic.WithAPIKey("sk-ant-fake"), anthropic.WithBaseURL(srv.BaseURL()), anthropic.WithTimeout(30*time.Second))
		budget = llmqueue.Budget{ITPM: s.itpm, OTPM: s.otpm, RPM: s.rpm, Window: s.window}
	} else {
		opts := []anthropic.Option{anthropic.WithAPIKey(os.Getenv("ANTHROPIC_API_KEY")), anthropic.WithTimeout(5 * time.Minute)}
		if u := os.Getenv("ANTHROPIC_BASE_URL"); u != "" {
			opts = append(opts, anthropic.WithBaseURL(u))
		}
		proc, err = anthropic.New(opts...)
		budget.ITPM, budget.OTPM = s.itpm, s.otpm
		if s.rpm > 0 {
			budget.RPM = s.rpm
		}
		if s.window > 0 {
			budget.Window = s.window
		}
	}
	if err != nil {
		return err
	}

	ns := cfg.Manager.Namespace
	if os.Getenv("LLM_QUEUE_NAMESPACE") == "" {
		ns = "example-anthropic-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	mc := cfg.Manager
	mc.Namespace, mc.Budget, mc.Estimator, mc.Validator = ns, budget, proc, proc
	qm, err := llmqueue.NewQueueManager(conn.Client, &mc)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "namespace %q, queue budget %s\n", qm.Namespace(), qm.Budget())
	return burst(ctx, out, s, cfg, qm, proc, srv)
}

// burst queues s.n requests, processes them, and reports.
func burst(ctx context.Context, out io.Writer, s settings, cfg envconfig.Config, qm *llmqueue.QueueManager,
	proc *anthropic.Processor, srv *providertest.AnthropicServer) error {
	reqs := make([]*llmqueue.Request, s.n)
	for i := range reqs {
		reqs[i] = llmqueue.NewRequest(sdk.MessageNewParams{
			Model:     s.model,
			MaxTokens: int64(s.maxTokens),
			Messages: []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock(
				fmt.Sprintf("Name a prime number greater than %d. Answer with the number only.", 100*i)))},
		})
	}
	ids, err := qm.AddMany(ctx, reqs)
	if err != nil {
		return err
	}
	st0, err := qm.Status(ctx, ids[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "queued %d requests, about %d tokens each (ceil(characters / 4) + max_tokens)\n", len(ids), st0.EstimatedTokens)

	start := time.Now()
	wc := cfg.Worker
	wc.Concurrency = s.concurrency
	bp, err := llmqueue.NewBatchProcessor(qm, proc, &wc)
	if err != nil {
		return err
	}
	if err := bp.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bp.Shutdown(sctx)
	}()

	var failed []string
	for i, id := range ids {
		st, err := qm.Wait(ctx, id)
		if err != nil {
			return err
		}
		if st.Status != llmqueue.StatusCompleted {
			failed = append(failed, fmt.Sprintf("%s %s: %s", id, st.Status, st.Error))
			continue
		}
		if srv == nil {
			fmt.Fprintf(out, "#%d: %s (%d in, %d out)\n", i, reply(st.Result), st.Usage.InputTokens, st.Usage.OutputTokens)
		}
	}
	wall := time.Since(start)
	m, err := qm.Metrics(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ncompleted: %d/%d\n", len(ids)-len(failed), len(ids))
	if srv != nil {
		st := srv.Stats()
		busiest := providertest.BusiestWindow(srv.Calls(), s.window)
		fmt.Fprintf(out, "requests: %d\n429s: %d\nbusiest window: %d/%d input tokens, %d/%d output tokens\n",
			st.Requests, st.RateLimited, busiest.InputTokens, s.itpm, busiest.OutputTokens, s.otpm)
	}
	fmt.Fprintf(out, "rate-limited (queue): %d\nwall time: %s\n", m.TotalRateLimit, wall.Round(time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("%d requests failed:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	return nil
}

// reply returns the text of a stored message.
func reply(result json.RawMessage) string {
	var msg sdk.Message
	if err := json.Unmarshal(result, &msg); err != nil {
		return "(no reply)"
	}
	var sb strings.Builder
	for _, block := range msg.Content {
		sb.WriteString(block.Text)
	}
	if sb.Len() == 0 {
		return "(no text)"
	}
	return strings.TrimSpace(sb.String())
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
