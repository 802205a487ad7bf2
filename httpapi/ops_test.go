package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/prom"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

func TestAuth_HookRefusalIs401And403(t *testing.T) {
	auth := func(r *http.Request) error {
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			return nil
		case "Bearer reader":
			if r.Method != http.MethodGet {
				return fmt.Errorf("read-only token: %w", ErrForbidden)
			}
			return nil
		}
		return errors.New("bad token Bearer wrong-SECRET")
	}
	e := newEnv(t, config{api: []Option{WithAuth(auth)}})
	e.expectError(http.MethodPost, "/v1/queue/requests", `{"payload": 1}`, http.StatusUnauthorized, "unauthorized")
	msg := e.expectError(http.MethodGet, "/v1/queue/health", "", http.StatusUnauthorized, "unauthorized",
		"Authorization", "Bearer wrong-SECRET")
	require.NotContains(t, msg, "SECRET")
	e.expectError(http.MethodPost, "/v1/queue/requests", `{"payload": 1}`, http.StatusForbidden, "forbidden",
		"Authorization", "Bearer reader")

	status, _, b := e.do(http.MethodPost, "/v1/queue/requests", `{"payload": 1}`, "Authorization", "Bearer good")
	require.Equal(t, http.StatusCreated, status, "body: %s", b)
	require.NotContains(t, e.logs.String(), "SECRET")
}

func TestRouting_UnknownPathAndMethodAnswerJSON(t *testing.T) {
	e := newEnv(t, config{})
	e.expectError(http.MethodGet, "/v1/queue/nothing", "", http.StatusNotFound, "not_found")
	e.expectError(http.MethodPost, "/v1/queue/requests/a/b/c", "", http.StatusNotFound, "not_found")
	msg := e.expectError(http.MethodDelete, "/v1/queue/requests/abc", "", http.StatusMethodNotAllowed, "method_not_allowed")
	require.Contains(t, msg, "DELETE")
	_, h, _ := e.do(http.MethodPut, "/v1/queue/requests", "")
	require.Contains(t, h.Get("Allow"), "POST")
}

func TestMetrics_PrometheusTextParses(t *testing.T) {
	e := newEnv(t, config{manager: llmqueue.Config{Namespace: "api"}})
	e.create(`{"payload": 1, "estimated_tokens": 10}`)
	e.create(`{"payload": 2, "estimated_tokens": 20}`)
	e.create(`{"payload": 3, "estimated_tokens": 100000}`)

	status, h, b := e.do(http.MethodGet, "/v1/queue/metrics", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, h.Get("Content-Type"), "text/plain")
	fams := parseText(t, b)
	require.Equal(t, map[string]float64{"low": 2, "medium": 0, "long": 1}, byPriority(t, fams["llmqueue_queue_depth"], "api"))
	require.Equal(t, dto.MetricType_COUNTER, fams["llmqueue_requests_added_total"].GetType())
	require.Equal(t, 1.0, fams["llmqueue_up"].GetMetric()[0].GetGauge().GetValue())

	status, _, b = e.do(http.MethodGet, "/v1/queue/metrics.json", "")
	require.Equal(t, http.StatusOK, status)
	var m llmqueue.Metrics
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, int64(3), m.TotalInQueue)
	require.Equal(t, int64(2), m.QueueLengths["low"])
}

func TestMetrics_ServesTheGivenCollectorOrGatherer(t *testing.T) {
	e := newEnv(t, config{})
	c := prom.NewCollector(e.qm)
	c.Observe(llmqueue.AttemptEvent{Priority: llmqueue.PriorityLow, Status: llmqueue.StatusCompleted, Duration: time.Second})
	withCollector := newHandlerServer(t, New(e.qm, WithCollector(c)))
	fams := parseText(t, get(t, withCollector+"/v1/queue/metrics"))
	require.Contains(t, fams, "llmqueue_attempt_duration_seconds")

	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "my_own_gauge", Help: "Mine."}))
	withGatherer := newHandlerServer(t, New(e.qm, WithGatherer(reg)))
	fams = parseText(t, get(t, withGatherer+"/v1/queue/metrics"))
	require.Contains(t, fams, "my_own_gauge")
	require.NotContains(t, fams, "llmqueue_up")
}

func TestHealth_RedisAndWorkers(t *testing.T) {
	e := newEnv(t, config{manager: llmqueue.Config{OpTimeout: 300 * time.Millisecond}})
	health := func(url string) (int, healthReply) {
		resp, err := http.Get(url + "/v1/queue/health")
		require.NoError(t, err)
		defer resp.Body.Close()
		var h healthReply
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&h))
		return resp.StatusCode, h
	}
	status, h := health(e.srv.URL)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, healthReply{Status: "unavailable", Redis: "ok", Workers: 0, MinWorkers: 1}, h)

	redisOnly := newHandlerServer(t, New(e.qm, WithMinWorkers(0)))
	status, h = health(redisOnly)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ok", h.Status)

	e.startProcessor(llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		return &llmqueue.Result{}, nil
	}), nil)
	// The worker registers with its first heartbeat, just after Start.
	deadline := time.Now().Add(5 * time.Second)
	for status, h = health(e.srv.URL); status != http.StatusOK && time.Now().Before(deadline); status, h = health(e.srv.URL) {
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, healthReply{Status: "ok", Redis: "ok", Workers: 1, MinWorkers: 1}, h)

	e.stopRedis()
	status, h = health(e.srv.URL)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "unreachable", h.Redis)
}

func parseText(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	require.NoError(t, err, "metrics:\n%s", b)
	return fams
}

// byPriority maps a family's series of one namespace to their values.
func byPriority(t *testing.T, mf *dto.MetricFamily, ns string) map[string]float64 {
	t.Helper()
	require.NotNil(t, mf)
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		require.Equal(t, ns, labels["queue_namespace"])
		out[labels["priority"]] = m.GetGauge().GetValue()
	}
	return out
}
