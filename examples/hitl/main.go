// Command hitl runs a human-in-the-loop orchestration end to end: a
// request is queued through the HTTP API, a worker runs its first step and
// suspends it for approval, a human approves it through the HTTP API, and
// the worker resumes from the state it saved and finishes.
//
// Everything runs in one process to keep the example self-contained: an
// embedded miniredis (unless REDIS_URL or REDIS_HOST is set), the HTTP API
// on a loopback port, and a BatchProcessor. In a deployment the three are
// separate: Redis, the web tier (examples/httpserver) and any number of
// worker processes (examples/worker), and the request may stay suspended
// for hours while it holds no lease and no budget.
//
// Usage:
//
//	go run ./examples/hitl
//
// It prints each step and the final status, and exits 0 once the request
// completed (within about 10 seconds) and 1 otherwise.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/devredis"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/llmqueue/llmqueue/httpapi"
	"github.com/llmqueue/llmqueue/prom"
	"github.com/redis/go-redis/v9"
)

// deadline bounds the whole run.
const deadline = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hitl:", err)
		stop()
		os.Exit(1)
	}
}

// run performs the whole orchestration and writes what happens to out.
func run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	rdb, closeRedis, err := connectRedis(out)
	if err != nil {
		return err
	}
	defer closeRedis()
	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{Namespace: "hitl-example", Logger: logger})
	if err != nil {
		return fmt.Errorf("queue manager: %w", err)
	}

	// The worker side: a BatchProcessor running the orchestration, with
	// its attempts reported to the Prometheus collector.
	collector := prom.NewCollector(qm)
	bp, err := llmqueue.NewBatchProcessor(qm, llmqueue.ProcessorFunc(orchestrate),
		&llmqueue.WorkerConfig{PollInterval: 50 * time.Millisecond, AttemptHooks: []func(llmqueue.AttemptEvent){collector.Observe}})
	if err != nil {
		return fmt.Errorf("batch processor: %w", err)
	}
	if err := bp.Start(ctx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = bp.Shutdown(sctx)
	}()

	// The web side: the HTTP API on a loopback port.
	srv := httptest.NewServer(httpapi.New(qm, httpapi.WithCollector(collector), httpapi.WithLogger(logger)))
	defer srv.Close()
	api := &client{base: srv.URL, http: srv.Client()}
	fmt.Fprintf(out, "api: %s/v1/queue/\n", srv.URL)

	created, err := api.create(ctx, `{"payload": {"task": "reply to a refund request", "customer": "ACME"},
		"timeout_seconds": 60, "meta": {"requested_by": "support-bot"}}`)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "queued %s (priority %s)\n", created.ID, created.Priority)

	// A review UI would show suspended requests; here we poll the API.
	st, err := api.waitFor(ctx, created.ID, llmqueue.StatusSuspended)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "suspended: %s (progress %s)\n", st.SuspendReason, st.Meta["progress"])

	// The human approves.
	if _, err := api.resume(ctx, created.ID, `{"input": {"approved": true, "by": "alice"}}`); err != nil {
		return err
	}
	fmt.Fprintln(out, "approved by alice through POST /v1/queue/requests/{id}/resume")

	final, err := qm.Wait(ctx, created.ID)
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	fmt.Fprintf(out, "final status: %s after %d attempts (progress %s)\nresult: %s\n",
		final.Status, final.Attempts, final.Meta["progress"], final.Result)
	if final.Status != llmqueue.StatusCompleted {
		return fmt.Errorf("request ended %s: %s", final.Status, final.Error)
	}
	return nil
}

// task is the orchestration's payload.
type task struct {
	Task     string `json:"task"`
	Customer string `json:"customer"`
}

// savedState is what step 1 hands to step 2 across the suspension.
type savedState struct {
	Draft string `json:"draft"`
}

// approval is the human's input.
type approval struct {
	Approved bool   `json:"approved"`
	By       string `json:"by"`
}

// orchestrate is the processor. On a first run it drafts an answer (an
// LLM call in real life), records its progress and suspends for approval
// with the draft as saved state. Resumed, it reads the human's decision
// and the draft and finishes; a rejection fails the request for good.
func orchestrate(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	if job.ResumeInput == nil {
		var t task
		if err := json.Unmarshal(job.Payload, &t); err != nil {
			return nil, llmqueue.Permanent(fmt.Errorf("payload: %w", err))
		}
		draft := fmt.Sprintf("Dear %s, your refund has been approved.", t.Customer)
		if err := job.SetMeta(ctx, "progress", "step 1/2: draft written"); err != nil {
			return nil, fmt.Errorf("progress: %w", err)
		}
		state, err := json.Marshal(savedState{Draft: draft})
		if err != nil {
			return nil, llmqueue.Permanent(err)
		}
		return nil, llmqueue.Suspend("awaiting approval", state)
	}

	var (
		st savedState
		in approval
	)
	if err := json.Unmarshal(job.State, &st); err != nil {
		return nil, llmqueue.Permanent(fmt.Errorf("saved state: %w", err))
	}
	if err := json.Unmarshal(job.ResumeInput, &in); err != nil {
		return nil, llmqueue.Permanent(fmt.Errorf("resume input: %w", err))
	}
	if !in.Approved {
		return nil, llmqueue.Permanent(errors.New("draft rejected by " + in.By))
	}
	if err := job.SetMeta(ctx, "progress", "step 2/2: sent"); err != nil {
		return nil, fmt.Errorf("progress: %w", err)
	}
	out, err := json.Marshal(map[string]any{"sent": st.Draft, "approved_by": in.By})
	if err != nil {
		return nil, llmqueue.Permanent(err)
	}
	return &llmqueue.Result{Output: out}, nil
}

// connectRedis returns the Redis from the environment (REDIS_URL or
// REDIS_HOST, read by envconfig.Load) or an embedded miniredis.
func connectRedis(out io.Writer) (redis.UniversalClient, func(), error) {
	configured := os.Getenv("REDIS_URL") != "" || os.Getenv("REDIS_HOST") != ""
	cfg := envconfig.Default()
	if configured {
		var err error
		if cfg, err = envconfig.Load(); err != nil {
			return nil, nil, fmt.Errorf("configuration: %w", err)
		}
	}
	c, err := devredis.Connect(cfg, configured)
	if err != nil {
		return nil, nil, err
	}
	if c.Embedded {
		fmt.Fprintf(out, "redis: embedded miniredis at %s (REDIS_URL is not set)\n", c.Addr)
	} else {
		fmt.Fprintln(out, "redis: from the environment")
	}
	return c.Client, c.Close, nil
}
