package meterrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmqueue/llmqueue"
)

// IsRouter tells whether raw, the worker's spec in Env, is a RouterSpec
// (it lists deployments) rather than a Spec.
func IsRouter(raw string) bool {
	var probe struct {
		Deployments []json.RawMessage `json:"deployments"`
	}
	return json.Unmarshal([]byte(raw), &probe) == nil && len(probe.Deployments) > 0
}

// RouterSpec is what one router worker process runs: a Router over
// several fake servers of one provider.
type RouterSpec struct {
	Provider    string           `json:"provider"` // openai | bedrock | anthropic
	RedisURL    string           `json:"redis_url"`
	Namespace   string           `json:"namespace"`
	Budget      llmqueue.Budget  `json:"budget"` // the manager's
	Concurrency int              `json:"concurrency"`
	Deployments []DeploymentSpec `json:"deployments"`
}

// DeploymentSpec is one deployment of a RouterSpec.
type DeploymentSpec struct {
	Name     string          `json:"name"`
	BaseURL  string          `json:"base_url"`
	Budget   llmqueue.Budget `json:"budget"`
	Fallback bool            `json:"fallback,omitempty"`
}

// RunRouter runs a Router as raw (a JSON RouterSpec) says until stdin
// closes, logging WARN and above as JSON lines on stderr, and returns the
// exit code.
func RunRouter(raw string) int {
	var spec RouterSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "router spec:", err)
		return 2
	}
	var deps []llmqueue.Deployment
	for _, d := range spec.Deployments {
		proc, err := NewProcessor(spec.Provider, d.BaseURL)
		if err != nil {
			fmt.Fprintln(os.Stderr, "processor:", err)
			return 2
		}
		deps = append(deps, llmqueue.Deployment{Name: d.Name, Budget: d.Budget, Processor: proc, Fallback: d.Fallback})
	}
	opt, err := redis.ParseURL(spec.RedisURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redis url:", err)
		return 2
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{Namespace: spec.Namespace, Budget: spec.Budget, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 2
	}
	r, err := llmqueue.NewRouter(qm, deps, &llmqueue.WorkerConfig{Concurrency: spec.Concurrency,
		PollInterval: 20 * time.Millisecond, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "router:", err)
		return 2
	}
	if err := r.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 2
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = r.Shutdown(ctx)
	return 0
}
