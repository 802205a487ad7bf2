package prom

import (
	"github.com/llmqueue/llmqueue"
	"github.com/prometheus/client_golang/prometheus"
)

// descs holds the descriptors of the Redis-backed metrics.
type descs struct {
	up          *prometheus.Desc
	depth       *prometheus.Desc
	inFlight    *prometheus.Desc
	scheduled   *prometheus.Desc
	dead        *prometheus.Desc
	suspended   *prometheus.Desc
	added       *prometheus.Desc
	completed   *prometheus.Desc
	failed      *prometheus.Desc
	retried     *prometheus.Desc
	canceled    *prometheus.Desc
	rateLimited *prometheus.Desc
	tokReserved *prometheus.Desc
	tokLimit    *prometheus.Desc
	utilization *prometheus.Desc
	cooldown    *prometheus.Desc
	workers     *prometheus.Desc
	cost        *prometheus.Desc
	costDep     *prometheus.Desc
	costModel   *prometheus.Desc
}

func newDescs(ns prometheus.Labels) descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricPrefix, "", name), help, labels, ns)
	}
	return descs{
		up:          d("up", "1 when the last read of the queue's state from Redis succeeded, 0 when it failed."),
		depth:       d("queue_depth", "Requests waiting in each priority's queue.", "priority"),
		inFlight:    d("in_flight", "Requests leased and being processed, across all workers."),
		scheduled:   d("scheduled", "Requests waiting for a retry's backoff or a rate-limit cool-down."),
		dead:        d("dead", "Requests in the dead letters."),
		suspended:   d("suspended", "Requests suspended until a human resumes them."),
		added:       d("requests_added_total", "Requests added, by priority.", "priority"),
		completed:   d("requests_completed_total", "Requests completed, by priority.", "priority"),
		failed:      d("requests_failed_total", "Requests that failed for good (dead letters), by priority.", "priority"),
		retried:     d("requests_retried_total", "Failed attempts scheduled for a retry."),
		canceled:    d("requests_canceled_total", "Requests canceled."),
		rateLimited: d("requests_rate_limited_total", "Attempts that met a provider rate limit (429)."),
		tokReserved: d("tokens_reserved", "Tokens reserved in the budget's current sliding window."),
		tokLimit:    d("token_limit", "Usable tokens per window (0 means unlimited)."),
		utilization: d("budget_utilization_ratio", "Reserved tokens over the usable limit, 0 to 1 (0 when unlimited)."),
		cooldown:    d("rate_limit_cooldown_seconds", "Time left in the shared cool-down after a provider 429."),
		workers:     d("workers", "Live workers registered in the namespace."),
		cost:        d("cost_usd_total", "US dollars spent on completed calls at the configured prices."),
		costDep:     d("deployment_cost_usd_total", "US dollars spent on completed calls, by Router deployment.", "deployment"),
		costModel:   d("model_cost_usd_total", "US dollars spent on completed calls, by model.", "model"),
	}
}

func (d descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.up, d.depth, d.inFlight, d.scheduled, d.dead, d.suspended,
		d.added, d.completed, d.failed, d.retried, d.canceled, d.rateLimited,
		d.tokReserved, d.tokLimit, d.utilization, d.cooldown, d.workers, d.cost, d.costDep, d.costModel}
}

// collect sends the Redis-backed metrics of one snapshot. The counters are
// monotonic in Redis, so they are exported as constant counter values.
func (d descs) collect(ch chan<- prometheus.Metric, m *llmqueue.Metrics) {
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	perPrio := []struct {
		p                               llmqueue.Priority
		depth, added, completed, failed int64
	}{
		{llmqueue.PriorityLow, m.LowInQueue, m.LowQueued, m.LowCompleted, m.LowFailed},
		{llmqueue.PriorityMedium, m.MediumInQueue, m.MediumQueued, m.MediumCompleted, m.MediumFailed},
		{llmqueue.PriorityLong, m.LongInQueue, m.LongQueued, m.LongCompleted, m.LongFailed},
	}
	for _, p := range perPrio {
		gauge(d.depth, float64(p.depth), string(p.p))
		counter(d.added, p.added, string(p.p))
		counter(d.completed, p.completed, string(p.p))
		counter(d.failed, p.failed, string(p.p))
	}
	gauge(d.inFlight, float64(m.TotalProcessing))
	gauge(d.scheduled, float64(m.Scheduled))
	gauge(d.dead, float64(m.Dead))
	gauge(d.suspended, float64(m.Suspended))
	counter(d.retried, m.TotalRetried)
	counter(d.canceled, m.TotalCanceled)
	counter(d.rateLimited, m.TotalRateLimit)

	tu := m.TokenUsage
	gauge(d.tokReserved, float64(tu.Used))
	gauge(d.tokLimit, float64(tu.Limit))
	ratio := 0.0
	if tu.Limit > 0 {
		ratio = min(1, max(0, float64(tu.Used)/float64(tu.Limit)))
	}
	gauge(d.utilization, ratio)
	gauge(d.cooldown, m.CooldownSeconds)
	gauge(d.workers, float64(len(m.Workers)))
	usd := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, labels...)
	}
	usd(d.cost, m.CostUSD)
	for dep, v := range m.CostByDeployment {
		usd(d.costDep, v, dep)
	}
	for model, v := range m.CostByModel {
		usd(d.costModel, v, model)
	}
}
