package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBench_QuickRunPrintsEveryRow runs the whole program in -quick mode
// against a redis-server it starts and checks that every row is printed.
func TestBench_QuickRunPrintsEveryRow(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("LLMQUEUE_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis-server not found but LLMQUEUE_REQUIRE_REDIS=1: %v", err)
		}
		t.Skip("redis-server not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	err := run(ctx, []string{"bench", "-quick", "-big", "20000", "-json"}, &out, &progress)
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, out.String(), progress.String())
	}
	for _, want := range []string{
		"command: bench -quick -big 20000 -json",
		"machine: ",
		"| Baseline: go-redis SET, 1 goroutine |",
		"| Baseline: go-redis SET, 32 goroutines |",
		"| Baseline: go-redis SET, 64 goroutines |",
		"| Add, 1 goroutine |",
		"| Add, 32 goroutines |",
		"| AddMany, batches of 100, 32 goroutines |",
		"| Processing, no-op, budget on, 1 processor x 64 |",
		"| Processing, no-op, budget on, 2 processors x 64 |",
		"| Lease latency, Add -> processor start, p50 / p99 |",
		"| Lease latency, lease -> processor start, p50 / p99 |",
		"| Redis memory per queued request beyond its payload |",
		"| Lease rate, 1,000 queued |",
		"| Lease rate, 20,000 queued |",
		"| Budget utilization, saturating backlog |",
		"| Budget utilization, OpenAI meter, fake server at the queue's limit |",
		"| Budget utilization, Bedrock meter, fake server at the queue's limit |",
		"| Budget utilization, Anthropic meter, fake server at the queue's limit |",
		`"rows": [`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBench_RefusesARemoteRedis checks that only a loopback Redis is used.
func TestBench_RefusesARemoteRedis(t *testing.T) {
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"bench", "-redis", "redis://10.1.2.3:6379"}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("run with a remote address: got %v, want a loopback refusal", err)
	}
}
