package providers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/llmqueue/llmqueue/providers/internal/meterrun"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// routerWindow is the fake deployments' window in the Router acceptance
// runs: the meter runs' 5 s, for the same 100 ms margin.
const routerWindow = meterWindow

// routerFake is one fake OpenAI deployment, optionally behind a proxy on a
// fixed port that can go down (connection refused) and come back.
type routerFake struct {
	name  string
	limit int64
	srv   *providertest.OpenAIServer
	gate  *gate // nil: the processor calls srv directly
}

func (f *routerFake) baseURL() string {
	if f.gate != nil {
		return "http://" + f.gate.addr + "/v1"
	}
	return f.srv.BaseURL()
}

// gate is a reverse proxy on a fixed loopback port; down closes its
// listener and connections, so calls are refused, and up listens on the
// same port again.
type gate struct {
	addr   string
	target *url.URL
	mu     sync.Mutex
	hs     *http.Server
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := &gate{addr: l.Addr().String(), target: u}
	g.serve(l)
	t.Cleanup(g.down)
	return g
}

func (g *gate) serve(l net.Listener) {
	hs := &http.Server{Handler: httputil.NewSingleHostReverseProxy(g.target)}
	g.mu.Lock()
	g.hs = hs
	g.mu.Unlock()
	go func() { _ = hs.Serve(l) }()
}

func (g *gate) down() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hs != nil {
		_ = g.hs.Close()
		g.hs = nil
	}
}

func (g *gate) up(t *testing.T) {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the port may take a moment to free
		if l, err = net.Listen("tcp", g.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err, "listen again on %s", g.addr)
	g.serve(l)
}

// routerSetup is a namespace with a saturating backlog and router worker
// processes over fakes.
type routerSetup struct {
	qm    *llmqueue.QueueManager
	ids   []string
	fakes []*routerFake
	stop  func()
	// started lets the next run start its workers; firstCall calls it.
	started func()
}

// startRouterRun starts one fake per limit (behind a gate when gated is
// true for it), queues n requests and starts procs router workers.
func startRouterRun(t *testing.T, ns string, limits []int64, gated []bool, procs, n int) *routerSetup {
	t.Helper()
	ctx := context.Background()
	bin := meterWorkerBinary(t)
	rs := redistest.StartReal(t)
	var fakes []*routerFake
	var deps []meterrun.DeploymentSpec
	var largest int64
	for i, limit := range limits {
		f := &routerFake{name: fmt.Sprintf("dep-%c", 'a'+i), limit: limit}
		f.srv = providertest.NewOpenAIServer(providertest.OpenAIOptions{APIKey: meterrun.OpenAIKey,
			Limits:  providertest.Limits{TPM: limit, Window: routerWindow},
			Latency: meterLatency, OutputFraction: meterOutputFraction})
		t.Cleanup(f.srv.Close)
		if i < len(gated) && gated[i] {
			f.gate = newGate(t, f.srv.URL)
		}
		fakes = append(fakes, f)
		deps = append(deps, meterrun.DeploymentSpec{Name: f.name, BaseURL: f.baseURL(),
			Budget: llmqueue.Budget{TPM: limit, Window: routerWindow, SafetyBufferPercent: -1}})
		largest = max(largest, limit)
	}
	budget := llmqueue.Budget{TPM: largest, Window: routerWindow, SafetyBufferPercent: -1}
	proc, err := meterrun.NewProcessor("openai", fakes[0].srv.BaseURL())
	require.NoError(t, err)
	qm, err := llmqueue.NewQueueManager(rs.Client(t), &llmqueue.Config{Namespace: ns, Budget: budget,
		Estimator: proc.(llmqueue.Estimator), Validator: proc.(llmqueue.Validator)})
	require.NoError(t, err)
	var ids []string
	reqs := routerBacklog(n)
	for len(reqs) > 0 {
		k := min(200, len(reqs))
		got, err := qm.AddMany(ctx, reqs[:k])
		require.NoError(t, err)
		ids, reqs = append(ids, got...), reqs[k:]
	}
	spec, err := json.Marshal(meterrun.RouterSpec{Provider: "openai", RedisURL: rs.URL(), Namespace: ns,
		Budget: budget, Concurrency: 16, Deployments: deps})
	require.NoError(t, err)
	// One run starts at a time, as in the meter runs: processes starting
	// beside another run's first burst can hold its calls past their
	// reservation's margin. firstCall lets the next run start.
	meterStarting.Lock()
	stops := make([]func(), procs)
	for i := range stops {
		stops[i] = startMeterWorker(t, bin, string(spec))
	}
	return &routerSetup{qm: qm, ids: ids, fakes: fakes, started: meterStarting.Unlock, stop: func() {
		for _, s := range stops {
			s()
		}
	}}
}

// routerBacklog is n chat requests small beside a 20,000-token window: 4
// in 5 short prompts, 1 in 5 a 300-1,500-token document, max_tokens
// 100-1,000.
func routerBacklog(n int) []*llmqueue.Request {
	rng := rand.New(rand.NewPCG(13, 5))
	reqs := make([]*llmqueue.Request, n)
	for i := range reqs {
		text := fmt.Sprintf("Request %d: summarize the rate limit policy in one line.", i)
		if i%5 == 4 {
			text = prompt(rng, 300+rng.IntN(1201))
		}
		reqs[i] = llmqueue.NewRequest(map[string]any{"model": "gpt-4o-mini", "max_tokens": 100 + rng.IntN(901),
			"messages": []map[string]any{{"role": "user", "content": text}}})
	}
	return reqs
}

// firstCall waits for the first call any fake accepted and returns when.
func (s *routerSetup) firstCall(t *testing.T) time.Time {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var first time.Time
		for _, f := range s.fakes {
			if c := f.srv.Calls(); len(c) > 0 && (first.IsZero() || c[0].At.Before(first)) {
				first = c[0].At
			}
		}
		if !first.IsZero() {
			time.Sleep(time.Until(first.Add(time.Second)))
			s.started()
			return first
		}
		if time.Now().After(deadline) {
			s.started()
			t.Fatal("no call reached a fake deployment")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// callsIn counts f's accepted calls arriving in [from, to).
func callsIn(f *routerFake, from, to time.Time) int {
	n := 0
	for _, c := range f.srv.Calls() {
		if !c.At.Before(from) && c.At.Before(to) {
			n++
		}
	}
	return n
}

// tokensIn sums the tokens of f's accepted calls arriving in [from, to).
func tokensIn(f *routerFake, from, to time.Time) int64 {
	var n int64
	for _, c := range f.srv.Calls() {
		if !c.At.Before(from) && c.At.Before(to) {
			n += c.Tokens
		}
	}
	return n
}

func tokensOf(c providertest.Call) int64 { return c.Tokens }

// Acceptance: three deployments with TPM 20,000 / 40,000 / 60,000 per
// window and 4 worker processes with a saturating backlog run at >= 95% of
// the sum of the three limits, with no 429 and no deployment's busiest
// window over its own limit.
func TestRouter_RunsAtTheSumOfItsDeploymentsLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 25 s")
	}
	parallelRun(t)
	const windows = 3
	s := startRouterRun(t, "router-sum", []int64{20_000, 40_000, 60_000}, nil, 4, 1200)
	start := s.firstCall(t)
	end := start.Add((windows + 1) * routerWindow)
	time.Sleep(time.Until(end) + 100*time.Millisecond)
	s.stop()

	var used, capacity float64
	for _, f := range s.fakes {
		var in []providertest.Call
		for _, c := range f.srv.Calls() {
			if c.At.Before(end) {
				in = append(in, c)
			}
		}
		util := providertest.Utilization(in, start.Add(routerWindow), end, routerWindow, f.limit, tokensOf)
		busiest := float64(providertest.BusiestWindow(in, routerWindow).Tokens) / float64(f.limit)
		t.Logf("router %s TPM %d: %d calls, %d 429s, busiest window %.3f x limit, steady utilization %.1f%%",
			f.name, f.limit, len(in), f.srv.Stats().RateLimited, busiest, util*100)
		assert.Zero(t, f.srv.Stats().RateLimited, "%s: 429s", f.name)
		assert.LessOrEqual(t, busiest, 1.0, "%s: busiest window ÷ its limit", f.name)
		used += util * float64(f.limit)
		capacity += float64(f.limit)
	}
	t.Logf("router aggregate: steady utilization %.1f%% of %d tokens per window", used/capacity*100, int64(capacity))
	assert.GreaterOrEqual(t, used/capacity, 0.95, "aggregate steady utilization")
}

// Acceptance: a deployment whose connections are refused mid-run hands
// its requests to the other two without spending a retry, and is probed
// back in once it listens again.
func TestRouter_DownDeploymentFailsOverAndIsProbedBackIn(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 20 s")
	}
	parallelRun(t)
	s := startRouterRun(t, "router-down", []int64{20_000, 40_000, 60_000}, []bool{false, true, false}, 2, 500)
	defer s.stop()
	b := s.fakes[1]
	start := s.firstCall(t)

	time.Sleep(time.Until(start.Add(2 * time.Second)))
	downAt := time.Now()
	b.gate.down()
	time.Sleep(4 * time.Second)
	upAt := time.Now()
	b.gate.up(t)

	statuses := waitAll(t, s.qm, s.ids, 90*time.Second)
	doneAt := time.Now()
	for _, st := range statuses {
		require.Equal(t, llmqueue.StatusCompleted, st.Status, "%s: %s", st.ID, st.Error)
		assert.Equal(t, 1, st.Attempts, "%s: a failover spends no retry", st.ID)
	}
	m, err := s.qm.Metrics(context.Background())
	require.NoError(t, err)
	assert.Zero(t, m.TotalRetried, "retries spent")

	var lastBefore, firstAfter time.Time
	for _, c := range b.srv.Calls() {
		if c.At.Before(downAt) {
			lastBefore = c.At
		} else if firstAfter.IsZero() && !c.At.Before(upAt) {
			firstAfter = c.At
		}
	}
	require.False(t, firstAfter.IsZero(), "the deployment is probed back in once it listens again")
	served := map[string]int{}
	for _, f := range s.fakes {
		served[f.name] = len(f.srv.Calls())
	}
	t.Logf("router down: %s down at +%.2fs (its last call +%.2fs), %d calls to the others while down, up at +%.2fs, "+
		"probed back in at +%.2fs (%.2fs after), %d of its calls after; all %d done at +%.2fs, 1 attempt each, %d retries; served %v",
		b.name, downAt.Sub(start).Seconds(), lastBefore.Sub(start).Seconds(),
		callsIn(s.fakes[0], downAt, upAt)+callsIn(s.fakes[2], downAt, upAt), upAt.Sub(start).Seconds(),
		firstAfter.Sub(start).Seconds(), firstAfter.Sub(upAt).Seconds(), callsIn(b, upAt, doneAt),
		len(statuses), doneAt.Sub(start).Seconds(), m.TotalRetried, served)
	assert.Positive(t, callsIn(s.fakes[0], downAt, upAt)+callsIn(s.fakes[2], downAt, upAt), "the others kept serving")
}

// Acceptance: a 429 with Retry-After 5 s pauses only the deployment that
// got it; the others keep their throughput through the pause.
func TestRouter_RateLimitPausesOnlyThatDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 20 s")
	}
	parallelRun(t)
	s := startRouterRun(t, "router-429", []int64{20_000, 40_000, 60_000}, nil, 4, 1000)
	defer s.stop()
	c := s.fakes[2]
	start := s.firstCall(t)
	// Two windows: a saturated deployment leases in bursts as its window
	// frees up, so a span of one window can catch one burst or two; over
	// two windows the others' share is steady enough to compare.
	const pause = 2 * routerWindow

	time.Sleep(time.Until(start.Add(routerWindow + pause)))
	c.srv.Inject(providertest.Fault{Kind: providertest.FaultRateLimit, Header: http.Header{"Retry-After": {strconv.Itoa(int(pause / time.Second))}}})
	deadline := time.Now().Add(10 * time.Second)
	for c.srv.Stats().Injected == 0 {
		require.True(t, time.Now().Before(deadline), "the 429 was never served")
		time.Sleep(5 * time.Millisecond)
	}
	limitedAt := time.Now()
	time.Sleep(pause + 500*time.Millisecond)
	s.stop()

	before, during := limitedAt.Add(-pause), limitedAt.Add(pause)
	// The calls c accepted during the pause: those that were already on
	// their way when the 429 came back, at most.
	assert.LessOrEqual(t, callsIn(c, limitedAt.Add(300*time.Millisecond), during.Add(-200*time.Millisecond)), 0,
		"%s pauses for its Retry-After", c.name)
	// A deployment leases the head request only when its own budget can
	// afford it, so each one's share of a 5 s span varies with the sizes
	// at the head; the two together keep their throughput.
	var sumBefore, sumDuring int64
	for _, f := range s.fakes[:2] {
		b, d := tokensIn(f, before, limitedAt), tokensIn(f, limitedAt, during)
		sumBefore, sumDuring = sumBefore+b, sumDuring+d
		t.Logf("router 429 on %s: %s (TPM %d) accepted %d tokens (%d calls) in the pause's length before, %d (%d calls) during the pause (%.0f%%)",
			c.name, f.name, f.limit, b, callsIn(f, before, limitedAt), d, callsIn(f, limitedAt, during), float64(d)/float64(max(b, 1))*100)
		assert.GreaterOrEqual(t, float64(d), 1.0*float64(f.limit), "%s keeps serving through the pause (two windows)", f.name)
	}
	t.Logf("router 429 on %s: the other two accepted %d tokens before, %d during the pause (%.0f%%)",
		c.name, sumBefore, sumDuring, float64(sumDuring)/float64(max(sumBefore, 1))*100)
	assert.GreaterOrEqual(t, float64(sumDuring), 0.75*float64(sumBefore), "the others keep their throughput")
	assert.Zero(t, c.srv.Stats().RateLimited, "%s: no 429 of its own limiter after the injected one", c.name)
	t.Logf("router 429: %s served %d calls in the pause's length before, %d in the 300 ms after the 429 (already on their way), %d in the rest of its pause, %d 429s in all",
		c.name, callsIn(c, before, limitedAt), callsIn(c, limitedAt, limitedAt.Add(300*time.Millisecond)),
		callsIn(c, limitedAt.Add(300*time.Millisecond), during.Add(-200*time.Millisecond)), c.srv.Stats().Injected+c.srv.Stats().RateLimited)
}
