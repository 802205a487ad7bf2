package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/anthropic"
	"github.com/llmqueue/llmqueue/providers/bedrock"
	"github.com/llmqueue/llmqueue/providers/openai"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// The meter rows: each built-in meter's provider adapter against its fake
// server, whose limit equals the queue's, with no safety buffer.
const (
	meterTPM     = 200_000 // per window: OpenAI and Bedrock tokens, Anthropic input tokens
	meterWindows = 5       // the first is the ramp-up, the other 4 are measured
	meterLatency = 50 * time.Millisecond
	// meterWindow is the fake servers' and the queue's window: a
	// reservation's margin to reach the provider is 2% of it (100 ms),
	// which -quick's 1 s window makes rough.
	meterWindow = 5 * time.Second
)

// meterTarget is one provider: its fake server and its real adapter.
type meterTarget struct {
	name  string
	start func(l providertest.Limits) (srv meterServer, proc llmqueue.Processor, err error)
	// bind is the dimension the limit is on.
	bind func(providertest.Call) int64
	// payload is request i: a prompt of promptChars and maxTokens.
	payload func(prompt string, maxTokens int) any
}

// meterServer is what a meter row reads from a fake server.
type meterServer interface {
	Stats() providertest.Stats
	Calls() []providertest.Call
	Close()
}

var meterTargets = []meterTarget{
	{
		name: "OpenAI",
		start: func(l providertest.Limits) (meterServer, llmqueue.Processor, error) {
			srv := providertest.NewOpenAIServer(providertest.OpenAIOptions{Limits: l, APIKey: "sk-bench",
				Latency: meterLatency, OutputFraction: 0.5})
			p, err := openai.New(openai.WithAPIKey("sk-bench"), openai.WithBaseURL(srv.BaseURL()))
			return srv, p, err
		},
		bind: func(c providertest.Call) int64 { return c.Tokens },
		payload: func(prompt string, maxTokens int) any {
			return map[string]any{"model": "gpt-4o-mini", "max_tokens": maxTokens,
				"messages": []map[string]any{{"role": "user", "content": prompt}}}
		},
	},
	{
		name: "Bedrock",
		start: func(l providertest.Limits) (meterServer, llmqueue.Processor, error) {
			srv := providertest.NewBedrockServer(providertest.BedrockOptions{Limits: l, Latency: meterLatency,
				OutputFraction: 0.5})
			p, err := bedrock.New(context.Background(), bedrock.WithEndpoint(srv.URL),
				bedrock.WithConfig(aws.Config{Region: providertest.TestRegion, Credentials: srv.Credentials()}))
			return srv, p, err
		},
		bind: func(c providertest.Call) int64 { return c.Tokens },
		payload: func(prompt string, maxTokens int) any {
			return map[string]any{"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "maxTokens": maxTokens,
				"messages": []map[string]any{{"role": "user", "content": prompt}}}
		},
	},
	{
		name: "Anthropic",
		start: func(l providertest.Limits) (meterServer, llmqueue.Processor, error) {
			l.ITPM, l.OTPM, l.TPM = l.TPM, 10*l.TPM, 0
			srv := providertest.NewAnthropicServer(providertest.AnthropicOptions{Limits: l, APIKey: "sk-ant-bench",
				Latency: meterLatency, OutputFraction: 0.5})
			p, err := anthropic.New(anthropic.WithAPIKey("sk-ant-bench"), anthropic.WithBaseURL(srv.BaseURL()))
			return srv, p, err
		},
		bind: func(c providertest.Call) int64 { return c.InputTokens },
		payload: func(prompt string, maxTokens int) any {
			return map[string]any{"model": "claude-sonnet-4-5", "max_tokens": maxTokens,
				"messages": []map[string]any{{"role": "user", "content": prompt}}}
		},
	},
}

// measureMeters runs each meter row.
func (b *bench) measureMeters(ctx context.Context) error {
	for _, m := range meterTargets {
		if err := b.measureMeter(ctx, m); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return nil
}

// measureMeter runs 2 processors through m's adapter into its fake server
// for meterWindows windows with a saturating mixed backlog: one request in
// five a 2,000-6,000-token document, max_tokens 100-4,000, replies using
// half of it.
func (b *bench) measureMeter(ctx context.Context, m meterTarget) (err error) {
	s, err := b.begin(ctx, "meter-"+strings.ToLower(m.name))
	if err != nil {
		return err
	}
	defer s.end(ctx, &err)
	window := meterWindow
	if b.cfg.quick {
		window = time.Second
	}
	limits := providertest.Limits{TPM: meterTPM, RPM: 10_000, Window: window}
	srv, proc, err := m.start(limits)
	if err != nil {
		return err
	}
	defer srv.Close()
	budget := llmqueue.Budget{TPM: limits.TPM, RPM: limits.RPM, Window: window, SafetyBufferPercent: -1}
	if m.name == "Anthropic" {
		budget = llmqueue.Budget{ITPM: limits.TPM, OTPM: 10 * limits.TPM, RPM: limits.RPM, Window: window,
			SafetyBufferPercent: -1}
	}
	mc := &llmqueue.Config{Namespace: s.ns, Budget: budget, Estimator: proc.(llmqueue.Estimator), Logger: b.log}
	admin, err := llmqueue.NewQueueManager(b.admin, mc)
	if err != nil {
		return err
	}
	reqs := make([]*llmqueue.Request, 400*meterWindows)
	for i := range reqs {
		prompt := fmt.Sprintf("Request %d: summarize the rate limit policy in one line.", i)
		if i%5 == 4 {
			prompt = strings.Repeat("rate limits are shared by every worker ", (2000+(i*7919)%4001)*4/39)
		}
		reqs[i] = llmqueue.NewRequest(m.payload(prompt, 100+(i*104729)%3901))
	}
	for len(reqs) > 0 {
		k := min(200, len(reqs))
		if _, err := admin.AddMany(ctx, reqs[:k]); err != nil {
			return err
		}
		reqs = reqs[k:]
	}
	var procs []*llmqueue.BatchProcessor
	var clients []io.Closer
	defer func() {
		// Processors first: their last acks need their clients open.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, bp := range procs {
			_ = bp.Shutdown(sctx)
		}
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	for range 2 {
		rdb := s.b.srv.client(32)
		clients = append(clients, rdb)
		qm, err := llmqueue.NewQueueManager(rdb, mc)
		if err != nil {
			return err
		}
		bp, err := llmqueue.NewBatchProcessor(qm, proc, &llmqueue.WorkerConfig{Concurrency: 16})
		if err != nil {
			return err
		}
		if err := bp.Start(ctx); err != nil {
			return err
		}
		procs = append(procs, bp)
	}
	for len(srv.Calls()) == 0 && ctx.Err() == nil {
		sleepCtx(ctx, 10*time.Millisecond)
	}
	start := srv.Calls()[0].At
	end := start.Add(meterWindows * window)
	sleepCtx(ctx, time.Until(end)+100*time.Millisecond)
	if err := ctx.Err(); err != nil {
		return err
	}
	var calls []providertest.Call
	for _, c := range srv.Calls() {
		if c.At.Before(end) {
			calls = append(calls, c)
		}
	}
	util := providertest.Utilization(calls, start.Add(window), end, window, meterTPM, m.bind)
	busiest := float64(m.bind(providertest.BusiestWindow(calls, window))) / meterTPM
	limited := srv.Stats().RateLimited
	b.addRow(row{
		Name:  fmt.Sprintf("Budget utilization, %s meter, fake server at the queue's limit", m.name),
		Value: util * 100, Unit: "percent", Figure: fmt.Sprintf("%.1f%%", util*100), RatioOf: "-",
		Target: ">= 95%, 0 429s", Met: boolPtr(util >= 0.95 && limited == 0),
		Note: fmt.Sprintf("%d 429s; busiest window %.3f x the limit; %d calls in %d windows of %s; 2 processors x 16",
			limited, busiest, len(calls), meterWindows, window),
	})
	return nil
}
