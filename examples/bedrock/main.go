// Command bedrock queues Amazon Bedrock Converse calls through llmqueue with
// the providers/bedrock adapter.
//
// With -fake it needs nothing installed and no AWS account: it starts an
// in-process server that speaks the Converse REST JSON protocol, checks the
// SigV4 signature of static test credentials and enforces a
// tokens-per-minute limit over a sliding window, like Bedrock
// (providertest.NewBedrockServer), gives the queue the same limit, runs a
// burst of requests through it, and prints how many calls the server saw,
// how many it throttled (none: the queue kept under the limit) and the wall
// time:
//
//	go run ./examples/bedrock -fake
//
// Without -fake it calls the real Bedrock runtime with the standard AWS
// configuration chain (AWS_REGION, AWS_PROFILE, environment credentials,
// SSO, instance roles), under the budget of -tpm or LLM_QUEUE_TOTAL_TPM,
// and prints each reply:
//
//	AWS_REGION=us-east-1 go run ./examples/bedrock -n 3 -tpm 200000
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/devredis"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/llmqueue/llmqueue/providers/bedrock"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bedrock:", err)
		os.Exit(1)
	}
}

// settings are the command-line flags.
type settings struct {
	fake        bool
	n           int
	model       string
	region      string
	maxTokens   int
	tpm         int64
	window      time.Duration
	concurrency int
}

func parse(args []string) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("bedrock", flag.ContinueOnError)
	fs.BoolVar(&s.fake, "fake", false, "use an in-process fake Bedrock server with a TPM limit instead of AWS")
	fs.IntVar(&s.n, "n", 0, "requests to queue (default 80 with -fake, 3 otherwise)")
	fs.StringVar(&s.model, "model", cmpOr(os.Getenv("BEDROCK_MODEL_ID"), "anthropic.claude-3-haiku-20240307-v1:0"), "model or inference profile ID (BEDROCK_MODEL_ID)")
	fs.StringVar(&s.region, "region", "", "AWS region (default: AWS_REGION or the shared config)")
	fs.IntVar(&s.maxTokens, "max-tokens", 100, "maxTokens of each request")
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
	var proc *bedrock.Processor
	var srv *providertest.BedrockServer
	if s.fake {
		srv = providertest.NewBedrockServer(providertest.BedrockOptions{
			Limits:  providertest.Limits{TPM: s.tpm, Window: s.window},
			Latency: 50 * time.Millisecond,
		})
		defer srv.Close()
		fmt.Fprintf(out, "fake Bedrock runtime at %s: %d tokens per %s, enforced like Bedrock (input + maxTokens at arrival), SigV4 checked\n",
			srv.URL, s.tpm, s.window)
		proc, err = bedrock.New(ctx, bedrock.WithEndpoint(srv.URL), bedrock.WithTimeout(30*time.Second),
			bedrock.WithConfig(aws.Config{Region: providertest.TestRegion, Credentials: srv.Credentials()}))
		budget = llmqueue.Budget{TPM: s.tpm, Window: s.window}
	} else {
		proc, err = realProcessor(ctx, s)
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
		ns = "example-bedrock-" + strconv.FormatInt(time.Now().UnixNano(), 36)
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

// realProcessor builds the adapter on the default AWS configuration chain,
// after checking that the chain finds credentials at all.
func realProcessor(ctx context.Context, s settings) (*bedrock.Processor, error) {
	var loadOpts []func(*config.LoadOptions) error
	if s.region != "" {
		loadOpts = append(loadOpts, config.WithRegion(s.region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := awsCfg.Credentials.Retrieve(cctx); err != nil {
		return nil, fmt.Errorf("no AWS credentials found (%w); set them up or run with -fake to use the in-process server", err)
	}
	return bedrock.New(ctx, bedrock.WithConfig(awsCfg), bedrock.WithTimeout(2*time.Minute))
}

// burst queues s.n requests, processes them, and reports.
func burst(ctx context.Context, out io.Writer, s settings, cfg envconfig.Config, qm *llmqueue.QueueManager,
	proc *bedrock.Processor, srv *providertest.BedrockServer) error {
	reqs := make([]*llmqueue.Request, s.n)
	for i := range reqs {
		reqs[i] = llmqueue.NewRequest(bedrock.Payload{
			ModelID: s.model,
			System:  "Answer with the number only.",
			Messages: []bedrock.Message{{Role: "user", Content: bedrock.Content{{
				Text: fmt.Sprintf("Name a prime number greater than %d.", 100*i),
			}}}},
			MaxTokens: int32(s.maxTokens),
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
	fmt.Fprintf(out, "queued %d requests, about %d tokens each (characters / 4 + maxTokens)\n", len(ids), st0.EstimatedTokens)

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
			var o bedrock.Output
			_ = json.Unmarshal(st.Result, &o)
			fmt.Fprintf(out, "#%d: %s (%d in, %d out)\n", i, strings.TrimSpace(o.Text), st.Usage.InputTokens, st.Usage.OutputTokens)
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
		fmt.Fprintf(out, "requests: %d\nthrottled (429): %d\npeak window: %d/%d tokens\n", st.Requests, st.RateLimited, st.PeakWindowTokens, s.tpm)
	}
	fmt.Fprintf(out, "rate-limited (queue): %d\nwall time: %s\n", m.TotalRateLimit, wall.Round(time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("%d requests failed:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	return nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
