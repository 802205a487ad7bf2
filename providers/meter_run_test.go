package providers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/llmqueue/llmqueue/internal/gobuild"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/lockedbuf"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/llmqueue/llmqueue/providers/internal/meterrun"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// meterRun is one meter acceptance run: procs worker OS processes drain a
// saturating mixed backlog through a provider's real adapter into its fake
// server, whose limits equal the queue's.
type meterRun struct {
	provider string // openai | bedrock | anthropic
	procs    int
	// buffer is the queue's SafetyBufferPercent: -1 none, 0 the default.
	buffer float64
	// limits are the fake server's; the queue's Budget has the same
	// unless queueLimits is set.
	limits      providertest.Limits
	queueLimits *providertest.Limits
	// bind is the dimension utilization is measured on.
	bind    string // tokens | input | output
	windows int    // measured windows after the first
	n       int    // requests in the backlog
	backend redistest.Backend
	// maxRetries, when not zero, is every request's retry limit (-1: 0).
	maxRetries int
	// drain runs until every request has finished instead of for windows.
	drain bool
}

// meterResult is what the fake server saw.
type meterResult struct {
	stats   providertest.Stats
	calls   []providertest.Call
	busiest float64 // the busiest window of the bound dimension ÷ its limit
	util    float64 // accepted after the first window ÷ capacity
	start   time.Time
	// peakLedger is the most tokens the queue's ledger held, sampled
	// every 20 ms.
	peakLedger int64
}

func (r meterRun) String() string {
	buf := "none"
	switch {
	case r.buffer == 0:
		buf = "10% (default)"
	case r.buffer > 0:
		buf = fmt.Sprintf("%g%%", r.buffer)
	}
	return fmt.Sprintf("%s procs=%d buffer=%s backend=%s", r.provider, r.procs, buf, r.backend)
}

func (r meterRun) window() time.Duration { return r.limits.Window }

func (r meterRun) dim(c providertest.Call) int64 {
	switch r.bind {
	case "input":
		return c.InputTokens
	case "output":
		return c.OutputTokens
	}
	return c.Tokens
}

func (r meterRun) limit() int64 {
	switch r.bind {
	case "input":
		return r.limits.ITPM
	case "output":
		return r.limits.OTPM
	}
	return r.limits.TPM
}

func (r meterRun) budget() llmqueue.Budget {
	l := r.limits
	if r.queueLimits != nil {
		l = *r.queueLimits
	}
	return llmqueue.Budget{TPM: l.TPM, RPM: l.RPM, ITPM: l.ITPM, OTPM: l.OTPM, Window: l.Window,
		SafetyBufferPercent: r.buffer}
}

// meterServer is what the runs need of a fake server.
type meterServer interface {
	providertest.Server
	Calls() []providertest.Call
}

// Every fake server answers after this latency and writes replies that use
// half their output allowance.
const (
	meterLatency        = 50 * time.Millisecond
	meterOutputFraction = 0.5
)

// bedrockMeterModel burns output tokens down at 1x; the 5x models are
// covered by the meter's unit test and the fake server's.
const bedrockMeterModel = "anthropic.claude-3-haiku-20240307-v1:0"

func (r meterRun) startServer(t *testing.T) (meterServer, string) {
	t.Helper()
	switch r.provider {
	case "openai":
		s := providertest.NewOpenAIServer(providertest.OpenAIOptions{Limits: r.limits, APIKey: meterrun.OpenAIKey,
			Latency: meterLatency, OutputFraction: meterOutputFraction})
		t.Cleanup(s.Close)
		return s, s.BaseURL()
	case "bedrock":
		s := providertest.NewBedrockServer(providertest.BedrockOptions{Limits: r.limits, Latency: meterLatency,
			OutputFraction: meterOutputFraction})
		t.Cleanup(s.Close)
		return s, s.URL
	case "anthropic":
		s := providertest.NewAnthropicServer(providertest.AnthropicOptions{Limits: r.limits, APIKey: meterrun.AnthropicKey,
			Latency: meterLatency, OutputFraction: meterOutputFraction})
		t.Cleanup(s.Close)
		return s, s.BaseURL()
	}
	t.Fatalf("unknown provider %q", r.provider)
	return nil, ""
}

// words make the long prompts: English text, so a tokenizer counts fewer
// tokens than characters/4 and OpenAI's character estimate is the one
// that binds (as on the real service).
var words = strings.Fields(`the queue keeps every request in redis and runs it when the shared budget
of tokens and requests can afford it without a single refusal from the provider while many processes
share one window of sixty seconds and each reply is settled the way the provider counts it`)

// prompt returns text of about tokens x 4 characters.
func prompt(rng *rand.Rand, tokens int) string {
	var b strings.Builder
	for b.Len() < tokens*4 {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()[:tokens*4]
}

// backlog is the mixed workload: mostly short prompts, one in five a
// 2k-6k-token document, max_tokens 100-4,000.
func (r meterRun) backlog() []*llmqueue.Request {
	rng := rand.New(rand.NewPCG(1, uint64(r.procs)))
	reqs := make([]*llmqueue.Request, r.n)
	for i := range reqs {
		text := fmt.Sprintf("Request %d: summarize the rate limit policy in one line.", i)
		if i%5 == 4 {
			text = prompt(rng, 2000+rng.IntN(4001))
		}
		maxTokens := 100 + rng.IntN(3901)
		var p any
		switch r.provider {
		case "openai":
			p = map[string]any{"model": "gpt-4o-mini", "max_tokens": maxTokens,
				"messages": []map[string]any{{"role": "user", "content": text}}}
		case "bedrock":
			p = map[string]any{"modelId": bedrockMeterModel, "maxTokens": maxTokens,
				"messages": []map[string]any{{"role": "user", "content": text}}}
		default:
			p = map[string]any{"model": "claude-sonnet-4-5", "max_tokens": maxTokens,
				"messages": []map[string]any{{"role": "user", "content": text}}}
		}
		var opts []llmqueue.RequestOption
		if r.maxRetries != 0 {
			opts = append(opts, llmqueue.WithMaxRetries(max(r.maxRetries, 0)))
		}
		reqs[i] = llmqueue.NewRequest(p, opts...)
	}
	return reqs
}

// startRedisFor starts the run's backend; the workers reach it by URL.
func startRedisFor(t *testing.T, b redistest.Backend) *redistest.Server {
	t.Helper()
	if b == redistest.Mini {
		return redistest.StartMini(t)
	}
	return redistest.StartReal(t)
}

// run queues the backlog, starts the workers, lets them run for the first
// window plus r.windows more, stops them and measures.
func (r meterRun) run(t *testing.T) (meterResult, *llmqueue.QueueManager, []string) {
	t.Helper()
	ctx := context.Background()
	bin := meterWorkerBinary(t)
	rs := startRedisFor(t, r.backend)
	srv, baseURL := r.startServer(t)
	proc, err := meterrun.NewProcessor(r.provider, baseURL)
	require.NoError(t, err)
	ns := "meter-" + r.provider
	qm, err := llmqueue.NewQueueManager(rs.Client(t), &llmqueue.Config{Namespace: ns, Budget: r.budget(), Estimator: proc.(llmqueue.Estimator), Validator: proc.(llmqueue.Validator)})
	require.NoError(t, err)
	var ids []string
	reqs := r.backlog()
	for len(reqs) > 0 {
		k := min(200, len(reqs))
		got, err := qm.AddMany(ctx, reqs[:k])
		require.NoError(t, err)
		ids, reqs = append(ids, got...), reqs[k:]
	}

	spec, err := json.Marshal(meterrun.Spec{Provider: r.provider, RedisURL: rs.URL(), Namespace: ns,
		BaseURL: baseURL, Budget: r.budget(), Concurrency: 16})
	require.NoError(t, err)
	// One run starts at a time: 8 processes starting beside another run's
	// first burst can hold that burst's calls past their reservation's
	// margin, which is a test machine's start-up, not the queue.
	meterStarting.Lock()
	var startOnce sync.Once
	started := func() { startOnce.Do(meterStarting.Unlock) }
	defer started()
	stops := make([]func(), r.procs)
	for i := range stops {
		stops[i] = startMeterWorker(t, bin, string(spec))
	}
	stopAll := func() {
		for _, stop := range stops {
			stop()
		}
	}
	defer stopAll()

	sampled := make(chan int64, 1)
	sampleCtx, stopSampling := context.WithCancel(ctx)
	if r.drain {
		go func() { sampled <- sampleLedger(sampleCtx, qm) }()
	} else {
		sampled <- 0
	}

	w := r.window()
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Calls()) == 0 {
		require.True(t, time.Now().Before(deadline), "no call reached the server")
		time.Sleep(10 * time.Millisecond)
	}
	start := srv.Calls()[0].At
	time.Sleep(time.Until(start.Add(time.Second)))
	started()
	end := start.Add(time.Duration(r.windows+1) * w)
	if r.drain {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		for _, id := range ids {
			_, err := qm.Wait(wctx, id)
			require.NoError(t, err)
		}
		cancel()
		end = time.Now()
	} else {
		time.Sleep(time.Until(end) + 100*time.Millisecond)
	}
	calls := srv.Calls()
	stopAll()
	stopSampling()
	peak := <-sampled

	var in []providertest.Call
	for _, c := range calls {
		if c.At.Before(end) {
			in = append(in, c)
		}
	}
	res := meterResult{stats: srv.Stats(), calls: in, start: start, peakLedger: peak}
	res.busiest = float64(r.dim(providertest.BusiestWindow(in, w))) / float64(r.limit())
	res.util = providertest.Utilization(in, start.Add(w), end, w, r.limit(), r.dim)
	t.Logf("meter %s: %d calls, %d 429s, busiest window %.3f x limit, steady utilization %.1f%% (%s)",
		r, len(in), res.stats.RateLimited, res.busiest, res.util*100, r.bind)
	return res, qm, ids
}

// meterSlots bounds the runs in flight across the meter and router
// acceptance tests. A run is mostly waiting (its workers idle on a
// saturated budget): 6 at once, beside the race suite, took this package
// from 297 s to 205 s on a 2-core machine with every margin as before.
// (This package runs without the race detector; under it, 4 at once
// crowded the 100 ms a reservation has to reach the provider.)
var meterSlots = make(chan struct{}, 6)

// parallelRun marks t parallel and holds one of meterSlots until t ends.
func parallelRun(t *testing.T) {
	t.Parallel()
	meterSlots <- struct{}{}
	t.Cleanup(func() { <-meterSlots })
}

// meterStarting is held by the run that is starting its workers.
var meterStarting sync.Mutex

// namedRun is a subtest's name and its run.
type namedRun struct {
	name string
	run  meterRun
}

// runConcurrently runs each case as a subtest, as many at once as
// meterSlots allows, and checks each result.
func runConcurrently(t *testing.T, cases []namedRun, check func(*testing.T, meterResult)) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Go(func() {
			meterSlots <- struct{}{}
			defer func() { <-meterSlots }()
			t.Run(c.name, func(t *testing.T) {
				res, _, _ := c.run.run(t)
				check(t, res)
			})
		})
	}
	wg.Wait()
}

// meterWorker is the worker command the runs start as OS processes, built
// without the race detector: 8 race-instrumented workers on a 2-core
// machine spend more time on instrumentation than the margin a reservation
// has to reach the provider, which says nothing about the queue.
var meterWorker = gobuild.Binary{Pkg: "github.com/llmqueue/llmqueue/providers/internal/meterrun/worker"}

// meterWorkerBinary returns the worker's path, built on first use.
func meterWorkerBinary(t *testing.T) string {
	t.Helper()
	bin, err := meterWorker.Path()
	require.NoError(t, err)
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	meterWorker.Remove()
	os.Exit(code)
}

// startMeterWorker starts one worker process and returns the function that
// stops it (idempotent).
func startMeterWorker(t *testing.T, bin, spec string) func() {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), meterrun.Env+"="+spec)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	var logs lockedbuf.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &logs
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = stdin.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && logs.String() != "" {
			t.Logf("worker %d stderr:\n%s", cmd.Process.Pid, logs.String())
		}
	})
	return stop
}

// sampleLedger polls the namespace's ledger until ctx ends and returns the
// most tokens it held.
func sampleLedger(ctx context.Context, qm *llmqueue.QueueManager) int64 {
	var peak int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return peak
		case <-tick.C:
			if m, err := qm.Metrics(ctx); err == nil {
				peak = max(peak, m.TokenUsage.Used)
			}
		}
	}
}
