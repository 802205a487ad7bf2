// Command httpserver is the web side of an llmqueue deployment: it serves
// the queue's HTTP API (package httpapi) so a web application can queue
// requests, follow them, cancel them and resume suspended ones, while
// worker processes (examples/worker) do the work.
//
// Usage:
//
//	REDIS_URL=redis://127.0.0.1:6379/0 httpserver [-addr 127.0.0.1:8080] [-demo]
//
// Redis and the queue settings come from the environment (see
// envconfig.Load: REDIS_URL or REDIS_HOST/REDIS_PORT/..., the
// LLM_QUEUE_* variables). When none of REDIS_URL, REDIS_HOST and
// REDIS_SERVICE_HOST (Kubernetes's) is set, it starts an embedded
// in-memory miniredis instead, says so, and prints the URL workers can use
// to join it; its data is gone when the server exits. At start it logs the
// variables that meant something else to llm-queue-task-manager.
//
// When API_TOKEN is set, every route except the health check and the
// dashboard's static files requires "Authorization: Bearer $API_TOKEN"
// (type the token into the dashboard's token field). Without it anyone who
// reaches the address may queue, read, cancel and resume requests; the
// server says so in a warning at start.
//
// The live dashboard is at http://127.0.0.1:8080/v1/queue/ui/. With -demo
// the server also runs a worker with a fake provider and queues a request
// every 0.6 s, so the dashboard shows work flowing with no worker process
// and no API key:
//
//	go run ./examples/httpserver -demo
//
// Without a budget in the environment, -demo sets 3,000,000 tokens and 600
// requests a minute, so the budget chart has limits to draw.
//
// Try it:
//
//	curl -s -XPOST localhost:8080/v1/queue/requests -d '{"payload": {"prompt": "hi"}}'
//	curl -s localhost:8080/v1/queue/requests/ID
//	curl -s localhost:8080/v1/queue/metrics
//	curl -s 'localhost:8080/v1/queue/requests?state=dead'
//
// SIGINT or SIGTERM shuts the server down gracefully: it stops accepting
// connections and lets requests in progress finish (10 seconds at most).
package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/devredis"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/llmqueue/llmqueue/httpapi"
	"github.com/redis/go-redis/v9"
)

// shutdownGrace bounds how long requests in progress may take after a
// signal.
const shutdownGrace = 10 * time.Second

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	demo := flag.Bool("demo", false, "also run a worker with a fake provider and queue demo requests, to watch the dashboard")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, options{addr: *addr, demo: *demo}, logger, nil); err != nil {
		logger.Error("httpserver failed", "error", err.Error())
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	addr string // address to listen on
	demo bool   // run a demo worker and feed it requests
}

// run serves the API on opts.addr until ctx ends, then shuts down
// gracefully. ready, when not nil, is told the address once the server
// listens.
func run(ctx context.Context, opts options, logger *slog.Logger, ready func(net.Addr)) error {
	cfg, err := envconfig.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	// Variables that meant something else to llm-queue-task-manager.
	envconfig.LogMigrationNotes(logger, os.LookupEnv)
	rdb, closeRedis, err := connectRedis(cfg, logger)
	if err != nil {
		return err
	}
	defer closeRedis()
	cfg.Manager.Logger = logger
	if b := &cfg.Manager.Budget; opts.demo && b.TPM == 0 && b.RPM == 0 && b.ITPM == 0 && b.OTPM == 0 && b.TPD == 0 && b.RPD == 0 {
		b.TPM, b.RPM = demoTPM, demoRPM // the rest (window, buffer) as configured
	}
	qm, err := llmqueue.NewQueueManager(rdb, &cfg.Manager)
	if err != nil {
		return fmt.Errorf("queue manager: %w", err)
	}
	if opts.demo {
		stopDemo, err := startDemo(ctx, qm, logger)
		if err != nil {
			return err
		}
		defer stopDemo()
		logger.Info("demo: a worker with a fake provider runs in this process, and a request is queued every " + demoInterval.String())
	}

	apiOpts := []httpapi.Option{httpapi.WithLogger(logger)}
	if token := os.Getenv("API_TOKEN"); token != "" {
		apiOpts = append(apiOpts, httpapi.WithAuth(bearerAuth(token)))
	} else {
		// An open API is fine on a laptop and a hole anywhere else; say it
		// where operators look, once, before the first request.
		logger.Warn("API_TOKEN is not set: the API has no authentication; anyone who can reach it may queue, read, cancel and resume requests",
			"fix", "set API_TOKEN, or put the API behind an authenticating proxy")
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/queue/", httpapi.New(qm, apiOpts...))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("serving the llmqueue HTTP API", "addr", "http://"+ln.Addr().String()+"/v1/queue/",
		"dashboard", "http://"+ln.Addr().String()+httpapi.DashboardPath, "namespace", qm.Namespace())
	if ready != nil {
		ready(ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// connectRedis returns the configured Redis, or an embedded miniredis when
// no Redis is configured.
func connectRedis(cfg envconfig.Config, logger *slog.Logger) (redis.UniversalClient, func(), error) {
	c, err := devredis.Connect(cfg, os.Getenv("REDIS_URL") != "" || os.Getenv("REDIS_HOST") != "" ||
		os.Getenv("REDIS_SERVICE_HOST") != "")
	if err != nil {
		return nil, nil, err
	}
	if c.Embedded {
		url := "redis://" + c.Addr
		logger.Warn("REDIS_URL is not set: using an embedded in-memory miniredis; its data is lost on exit",
			"url", url, "workers", "start them with REDIS_URL="+url)
	}
	return c.Client, c.Close, nil
}

// bearerAuth accepts "Authorization: Bearer token" and lets the health
// check through, so load balancers need no token, and the dashboard's
// static files, which hold no data: the page sends the token typed into
// it with each API call.
func bearerAuth(token string) func(*http.Request) error {
	want := []byte("Bearer " + token)
	return func(r *http.Request) error {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/queue/health" || httpapi.IsDashboardAsset(r) {
			return nil
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			return errors.New("missing or wrong bearer token")
		}
		return nil
	}
}
