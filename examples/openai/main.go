// Command openai queues OpenAI chat completions through llmqueue with the
// providers/openai adapter.
//
// With -fake it needs nothing installed and no key: it starts an in-process
// server that speaks the chat-completions wire format and enforces a
// tokens-per-minute limit over a sliding window, like OpenAI
// (providertest.NewOpenAIServer), gives the queue the same limit, runs a
// burst of requests through it, and prints how many calls the server saw,
// how many 429s it sent (none: the queue kept under the limit) and the wall
// time:
//
//	go run ./examples/openai -fake
//
// Without -fake it calls the real API with OPENAI_API_KEY (OPENAI_BASE_URL
// points it at any OpenAI-compatible server), under the budget of -tpm or
// LLM_QUEUE_TOTAL_TPM, and prints each reply:
//
//	OPENAI_API_KEY=sk-... go run ./examples/openai -n 3 -tpm 200000
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

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/devredis"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/llmqueue/llmqueue/providers/openai"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "openai:", err)
		os.Exit(1)
	}
}

// settings are the command-line flags.
type settings struct {
	fake        bool
	n           int
	model       string
	maxTokens   int
	tpm         int64
	window      time.Duration
	concurrency int
}

func parse(args []string) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("openai", flag.ContinueOnError)
	fs.BoolVar(&s.fake, "fake", false, "use an in-process fake OpenAI server with a TPM limit instead of the real API")
	fs.IntVar(&s.n, "n", 0, "requests to queue (default 80 with -fake, 3 otherwise)")
	fs.StringVar(&s.model, "model", "gpt-4o-mini", "model to call")
	fs.IntVar(&s.maxTokens, "max-tokens", 100, "max_tokens of each request")
	fs.Int64Var(&s.tpm, "tpm", 0, "token limit per window (default 6000 with -fake; otherwise LLM_QUEUE_TOTAL_TPM)")
	fs.DurationVar(&s.window, "window", 0, "rate-limit window (default 5s with -fake, so the demo is quick; otherwise LLM_QUEUE_WINDOW or 1m)")
	fs.IntVar(&s.concurrency, "concurrency", 16, "requests in flight at once")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if s.n == 0 {
		s.n = map[bool]int{true: 80, false: 3}[s.fake]
	}
	if s.fake {
		s.tpm = cmpOr(s.tpm, 6000)
		s.window = cmpOr(s.window, 5*time.Second)
	}
	if s.n < 1 || s.maxTokens < 1 || s.concurrency < 1 || s.tpm < 0 || s.window < 0 {
		return s, errors.New("-n, -max-tokens and -concurrency must be positive; -tpm and -window not negative")
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
	conn, err := devredis.Connect(cfg, cfg.Redis.URL != "")
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Fprintln(out, conn.Describe())

	budget := cfg.Manager.Budget
	var proc *openai.Processor
	var srv *providertest.OpenAIServer
	if s.fake {
		srv = providertest.NewOpenAIServer(providertest.OpenAIOptions{
			Limits:  providertest.Limits{TPM: s.tpm, Window: s.window},
			APIKey:  "sk-fake",
			Latency: 50 * time.Millisecond,
		})
		defer srv.Close()
		fmt.Fprintf(out, "fake OpenAI server at %s: %d tokens per %s, enforced like OpenAI (prompt + max_tokens at arrival)\n",
			srv.BaseURL(), s.tpm, s.window)
		proc, err = openai.New(openai.WithAPIKey("sk-fake"), openai.WithBaseURL(srv.BaseURL()), openai.WithTimeout(30*time.Second))
		budget = llmqueue.Budget{TPM: s.tpm, Window: s.window}
	} else {
		key := os.Getenv("OPENAI_API_KEY")
		if key == "" {
			return errors.New("OPENAI_API_KEY is not set; run with -fake to use the in-process server")
		}
		opts := []openai.Option{openai.WithAPIKey(key), openai.WithTimeout(2 * time.Minute)}
		if u := os.Getenv("OPENAI_BASE_URL"); u != "" {
			opts = append(opts, openai.WithBaseURL(u))
		}
		proc, err = openai.New(opts...)
		if s.tpm > 0 {
			budget.TPM = s.tpm
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
		ns = "example-openai-" + strconv.FormatInt(time.Now().UnixNano(), 36)
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
	proc *openai.Processor, srv *providertest.OpenAIServer) error {
	reqs := make([]*llmqueue.Request, s.n)
	for i := range reqs {
		reqs[i] = llmqueue.NewRequest(goopenai.ChatCompletionRequest{
			Model: s.model,
			Messages: []goopenai.ChatCompletionMessage{{
				Role:    goopenai.ChatMessageRoleUser,
				Content: fmt.Sprintf("Name a prime number greater than %d. Answer with the number only.", 100*i),
			}},
			MaxTokens: s.maxTokens,
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
	fmt.Fprintf(out, "queued %d requests, about %d tokens each (prompt as OpenAI's limiter counts it + max_tokens)\n", len(ids), st0.EstimatedTokens)

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
		fmt.Fprintf(out, "requests: %d\n429s: %d\npeak window: %d/%d tokens\n", st.Requests, st.RateLimited, st.PeakWindowTokens, s.tpm)
	}
	fmt.Fprintf(out, "rate-limited (queue): %d\nwall time: %s\n", m.TotalRateLimit, wall.Round(time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("%d requests failed:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	return nil
}

// reply returns the first choice's text of a stored chat-completion result.
func reply(result json.RawMessage) string {
	var resp goopenai.ChatCompletionResponse
	if err := json.Unmarshal(result, &resp); err != nil || len(resp.Choices) == 0 {
		return "(no reply)"
	}
	return strings.TrimSpace(resp.Choices[0].Message.Content)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
