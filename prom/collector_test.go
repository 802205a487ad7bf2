package prom

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/llmqueue/llmqueue/llmqueuetest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

func add(t *testing.T, k *llmqueuetest.Kit, payload string, tokens int64, opts ...llmqueue.RequestOption) string {
	t.Helper()
	opts = append(opts, llmqueue.WithEstimatedTokens(tokens))
	return k.Add(llmqueue.NewRequest(json.RawMessage(payload), opts...))
}

// newKit is a manager in namespace ns on an embedded Redis.
func newKit(t *testing.T, ns string, mc llmqueue.Config) *llmqueuetest.Kit {
	t.Helper()
	mc.Namespace = ns
	return llmqueuetest.New(t, nil, llmqueuetest.WithManagerConfig(mc))
}

func TestCollector_ReportsQueueStateFromRedis(t *testing.T) {
	k := newKit(t, "t1", llmqueue.Config{Budget: llmqueue.Budget{TPM: 1_000_000}})
	add(t, k, `{"n":1}`, 100)
	add(t, k, `{"n":2}`, 200)
	add(t, k, `{"n":3}`, 20_000)
	add(t, k, `{"n":4}`, 100_000)

	c := NewCollector(k.Manager)
	want := `
# HELP llmqueue_queue_depth Requests waiting in each priority's queue.
# TYPE llmqueue_queue_depth gauge
llmqueue_queue_depth{priority="long",queue_namespace="t1"} 1
llmqueue_queue_depth{priority="low",queue_namespace="t1"} 2
llmqueue_queue_depth{priority="medium",queue_namespace="t1"} 1
# HELP llmqueue_requests_added_total Requests added, by priority.
# TYPE llmqueue_requests_added_total counter
llmqueue_requests_added_total{priority="long",queue_namespace="t1"} 1
llmqueue_requests_added_total{priority="low",queue_namespace="t1"} 2
llmqueue_requests_added_total{priority="medium",queue_namespace="t1"} 1
# HELP llmqueue_token_limit Usable tokens per window (0 means unlimited).
# TYPE llmqueue_token_limit gauge
llmqueue_token_limit{queue_namespace="t1"} 900000
# HELP llmqueue_up 1 when the last read of the queue's state from Redis succeeded, 0 when it failed.
# TYPE llmqueue_up gauge
llmqueue_up{queue_namespace="t1"} 1
# HELP llmqueue_in_flight Requests leased and being processed, across all workers.
# TYPE llmqueue_in_flight gauge
llmqueue_in_flight{queue_namespace="t1"} 0
# HELP llmqueue_workers Live workers registered in the namespace.
# TYPE llmqueue_workers gauge
llmqueue_workers{queue_namespace="t1"} 0
`
	collectAndCompare(t, c, want,
		"llmqueue_queue_depth", "llmqueue_requests_added_total", "llmqueue_token_limit",
		"llmqueue_up", "llmqueue_in_flight", "llmqueue_workers")
}

func TestCollector_CountsFinishedRequestsAndAttempts(t *testing.T) {
	redistest.Each(t, testCountsFinishedRequestsAndAttempts)
}

func testCountsFinishedRequestsAndAttempts(t *testing.T, s *redistest.Server) {
	k := llmqueuetest.New(t, nil, llmqueuetest.WithClient(s.Client(t)),
		llmqueuetest.WithManagerConfig(llmqueue.Config{Namespace: "t2"}))
	c := NewCollector(k.Manager)
	proc := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		if strings.Contains(string(job.Payload), "fail") {
			return nil, llmqueue.Permanent(errors.New("bad request"))
		}
		return &llmqueue.Result{Output: json.RawMessage(`"ok"`),
			Usage: llmqueue.Usage{InputTokens: 30, OutputTokens: 20}}, nil
	})
	k.StartProcessor(proc, &llmqueue.WorkerConfig{AttemptHooks: []func(llmqueue.AttemptEvent){c.Observe}})

	ok := add(t, k, `{"do":"work"}`, 100)
	bad := add(t, k, `{"do":"fail"}`, 100, llmqueue.WithMaxRetries(0))
	k.WaitStatus(ok, llmqueue.StatusCompleted)
	k.WaitStatus(bad, llmqueue.StatusDead)
	// The hook runs after the ack that Wait saw: give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for collectAndCount(t, c, "llmqueue_attempt_duration_seconds") < 2 {
		require.True(t, time.Now().Before(deadline), "attempt hook was not called twice")
		time.Sleep(5 * time.Millisecond)
	}

	want := `
# HELP llmqueue_requests_completed_total Requests completed, by priority.
# TYPE llmqueue_requests_completed_total counter
llmqueue_requests_completed_total{priority="long",queue_namespace="t2"} 0
llmqueue_requests_completed_total{priority="low",queue_namespace="t2"} 1
llmqueue_requests_completed_total{priority="medium",queue_namespace="t2"} 0
# HELP llmqueue_requests_failed_total Requests that failed for good (dead letters), by priority.
# TYPE llmqueue_requests_failed_total counter
llmqueue_requests_failed_total{priority="long",queue_namespace="t2"} 0
llmqueue_requests_failed_total{priority="low",queue_namespace="t2"} 1
llmqueue_requests_failed_total{priority="medium",queue_namespace="t2"} 0
# HELP llmqueue_dead Requests in the dead letters.
# TYPE llmqueue_dead gauge
llmqueue_dead{queue_namespace="t2"} 1
# HELP llmqueue_tokens_used_total Tokens the provider reported as used by successful attempts of this process.
# TYPE llmqueue_tokens_used_total counter
llmqueue_tokens_used_total{priority="low",queue_namespace="t2"} 50
# HELP llmqueue_tokens_estimated_total Token estimates reserved by the attempts of this process.
# TYPE llmqueue_tokens_estimated_total counter
llmqueue_tokens_estimated_total{priority="low",queue_namespace="t2"} 200
# HELP llmqueue_workers Live workers registered in the namespace.
# TYPE llmqueue_workers gauge
llmqueue_workers{queue_namespace="t2"} 1
`
	collectAndCompare(t, c, want,
		"llmqueue_requests_completed_total", "llmqueue_requests_failed_total", "llmqueue_dead",
		"llmqueue_tokens_used_total", "llmqueue_tokens_estimated_total", "llmqueue_workers")

	// One observation each for the completed and the dead attempt.
	mfs := gather(t, c, "llmqueue_attempt_duration_seconds")
	statuses := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" {
					statuses[l.GetValue()] += m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	require.Equal(t, map[string]uint64{"completed": 1, "dead": 1}, statuses)
}

func TestCollector_RedisDownReportsUpZero(t *testing.T) {
	k := newKit(t, "t3", llmqueue.Config{OpTimeout: 300 * time.Millisecond})
	c := NewCollector(k.Manager, WithScrapeTimeout(time.Second))
	c.Observe(llmqueue.AttemptEvent{Priority: llmqueue.PriorityLow, Status: llmqueue.StatusCompleted,
		Duration: 1500 * time.Millisecond, Estimated: 10, Usage: llmqueue.Usage{InputTokens: 7}})
	k.Mini.Close()

	start := time.Now()
	require.Equal(t, 0, collectAndCount(t, c, "llmqueue_queue_depth"))
	require.Less(t, time.Since(start), 3*time.Second, "a scrape must not hang on a dead Redis")
	want := `
# HELP llmqueue_up 1 when the last read of the queue's state from Redis succeeded, 0 when it failed.
# TYPE llmqueue_up gauge
llmqueue_up{queue_namespace="t3"} 0
# HELP llmqueue_tokens_used_total Tokens the provider reported as used by successful attempts of this process.
# TYPE llmqueue_tokens_used_total counter
llmqueue_tokens_used_total{priority="low",queue_namespace="t3"} 7
`
	collectAndCompare(t, c, want, "llmqueue_up", "llmqueue_tokens_used_total")
}

func TestCollector_UtilizationIsARatioCappedAtOne(t *testing.T) {
	ns := prometheus.Labels{"queue_namespace": "x"}
	d := newDescs(ns)
	for _, tc := range []struct {
		used, limit int64
		want        float64
	}{{250, 1000, 0.25}, {0, 1000, 0}, {2000, 1000, 1}, {500, 0, 0}} {
		m := &llmqueue.Metrics{TokenUsage: llmqueue.TokenUsage{Used: tc.used, Limit: tc.limit}}
		ch := make(chan prometheus.Metric, 64)
		d.collect(ch, m)
		close(ch)
		found := false
		for pm := range ch {
			if pm.Desc() == d.utilization {
				var out dto.Metric
				require.NoError(t, pm.Write(&out))
				require.InDelta(t, tc.want, out.GetGauge().GetValue(), 1e-9, "used %d limit %d", tc.used, tc.limit)
				found = true
			}
		}
		require.True(t, found)
	}
}

func TestCollector_PassesLintAndPedanticRegistry(t *testing.T) {
	k := newKit(t, "t4", llmqueue.Config{})
	c := NewCollector(k.Manager, WithBuckets([]float64{1, 10, 100}))
	c.Observe(llmqueue.AttemptEvent{Status: llmqueue.StatusDead, Duration: time.Second})
	require.Empty(t, lint(t, c))
	require.Equal(t, 1, collectAndCount(t, c, "llmqueue_attempt_duration_seconds"))
}

// TestCollector_ReportsCostByDeploymentAndModel runs calls of known usage
// on a Router's one deployment and checks the exact dollars exported.
func TestCollector_ReportsCostByDeploymentAndModel(t *testing.T) {
	ctx := context.Background()
	k := newKit(t, "cost", llmqueue.Config{Prices: map[string]llmqueue.Price{
		"gpt-4o": {InputPerMillion: 2.50, OutputPerMillion: 10},
	}})
	proc := llmqueue.ProcessorFunc(func(context.Context, *llmqueue.Job) (*llmqueue.Result, error) {
		return &llmqueue.Result{Output: json.RawMessage(`1`), Usage: llmqueue.Usage{InputTokens: 1000, OutputTokens: 500}}, nil
	})
	r, err := llmqueue.NewRouter(k.Manager, []llmqueue.Deployment{{Name: "east", Model: "gpt-4o", Processor: proc}},
		&llmqueue.WorkerConfig{PollInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	var ids []string
	for i := range 4 {
		ids = append(ids, add(t, k, `{"n":`+string(rune('0'+i))+`}`, 100))
	}
	_, err = k.Manager.WaitAll(ctx, ids)
	require.NoError(t, err)

	// 4 calls x (1,000 x $2.50 + 500 x $10) per million = $0.03.
	want := `
# HELP llmqueue_cost_usd_total US dollars spent on completed calls at the configured prices.
# TYPE llmqueue_cost_usd_total counter
llmqueue_cost_usd_total{queue_namespace="cost"} 0.03
# HELP llmqueue_deployment_cost_usd_total US dollars spent on completed calls, by Router deployment.
# TYPE llmqueue_deployment_cost_usd_total counter
llmqueue_deployment_cost_usd_total{deployment="east",queue_namespace="cost"} 0.03
# HELP llmqueue_model_cost_usd_total US dollars spent on completed calls, by model.
# TYPE llmqueue_model_cost_usd_total counter
llmqueue_model_cost_usd_total{model="gpt-4o",queue_namespace="cost"} 0.03
`
	collectAndCompare(t, NewCollector(k.Manager), want,
		"llmqueue_cost_usd_total", "llmqueue_deployment_cost_usd_total", "llmqueue_model_cost_usd_total")
}
