package prom_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/prom"
)

// A Collector reports a namespace's queues and budget on every scrape;
// pass c.Observe to the BatchProcessor (WorkerConfig.AttemptHooks) for
// per-attempt latency and tokens.
func ExampleNewCollector() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{Namespace: "scraped"})
	if err != nil {
		panic(err)
	}
	defer qm.Close()
	for range 3 {
		if _, err := qm.Add(context.Background(), llmqueue.NewRequest(`{"prompt":"hi"}`, llmqueue.WithEstimatedTokens(10))); err != nil {
			panic(err)
		}
	}

	c := prom.NewCollector(qm)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if strings.Contains(f.GetName(), "queue_depth") {
			for _, m := range f.GetMetric() {
				if v := m.GetGauge().GetValue(); v > 0 {
					var labels []string
					for _, l := range m.GetLabel() {
						labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
					}
					fmt.Printf("%s{%s} %v\n", f.GetName(), strings.Join(labels, ","), v)
				}
			}
		}
	}
	// Output:
	// llmqueue_queue_depth{priority="low",queue_namespace="scraped"} 3
}
