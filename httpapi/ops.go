package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// healthTimeout bounds the Redis calls and the WithHealthCheck checks of
// one health check, so a probe gets an answer even when Redis or a check
// hangs.
const healthTimeout = 2 * time.Second

// healthReply is the body of GET /v1/queue/health.
type healthReply struct {
	// Status is "ok" or "unavailable".
	Status string `json:"status"`
	// Redis is "ok" or "unreachable".
	Redis string `json:"redis"`
	// Workers counts the live workers in the registry.
	Workers int `json:"workers"`
	// MinWorkers is how many the check requires.
	MinWorkers int `json:"min_workers"`
	// Checks maps each WithHealthCheck name to "ok", "failed" or
	// "timeout"; absent when the handler has no checks.
	Checks map[string]string `json:"checks,omitempty"`
}

// namedCheck is one WithHealthCheck check.
type namedCheck struct {
	name  string
	check func(context.Context) error
}

// health answers 200 when Redis answers PING, at least minWorkers workers
// are alive and every WithHealthCheck check passes; 503 otherwise. The
// checks run while Redis is asked, and are reported even when Redis is
// down.
func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	checks := h.startChecks(ctx)
	reply := healthReply{Status: "unavailable", Redis: "unreachable", MinWorkers: h.minWorkers}
	ok := h.redisHealth(ctx, &reply)
	reply.Checks = checks()
	for _, c := range reply.Checks {
		ok = ok && c == "ok"
	}
	status := http.StatusServiceUnavailable
	if ok {
		reply.Status, status = "ok", http.StatusOK
	}
	writeJSON(w, status, reply)
}

// redisHealth fills in reply's Redis and Workers and reports whether Redis
// answers and enough workers are alive.
func (h *handler) redisHealth(ctx context.Context, reply *healthReply) bool {
	if err := h.qm.Ping(ctx); err != nil {
		h.log.Warn("llmqueue/httpapi: health: redis ping failed", "error", err.Error())
		return false
	}
	reply.Redis = "ok"
	m, err := h.qm.Metrics(ctx)
	if err != nil {
		h.log.Warn("llmqueue/httpapi: health: reading the worker registry failed", "error", err.Error())
		return false
	}
	reply.Workers = len(m.Workers)
	return reply.Workers >= h.minWorkers
}

// startChecks starts every WithHealthCheck check in its own goroutine and
// returns a function that collects their results once ctx ends or they
// have all returned. A check that ignores ctx is left behind, reported as
// "timeout"; a panicking one is a failure, not a crash.
func (h *handler) startChecks(ctx context.Context) func() map[string]string {
	if len(h.checks) == 0 {
		return func() map[string]string { return nil }
	}
	results := make([]chan error, len(h.checks))
	for i, c := range h.checks {
		results[i] = make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					results[i] <- fmt.Errorf("panicked: %v", p)
				}
			}()
			results[i] <- c.check(ctx)
		}()
	}
	return func() map[string]string {
		out := make(map[string]string, len(h.checks))
		for i, c := range h.checks {
			var err error
			select {
			case err = <-results[i]:
			case <-ctx.Done():
				select { // a result that is already there wins over the deadline
				case err = <-results[i]:
				default:
					err = context.Cause(ctx)
				}
			}
			switch {
			case err == nil:
				out[c.name] = "ok"
				continue
			case errors.Is(err, context.DeadlineExceeded):
				out[c.name] = "timeout"
			default:
				out[c.name] = "failed"
			}
			h.log.Warn("llmqueue/httpapi: health: check failed", "check", c.name, "error", err.Error())
		}
		return out
	}
}

func (h *handler) metricsHandler() http.Handler {
	return promhttp.HandlerFor(h.gatherer, promhttp.HandlerOpts{
		ErrorLog:      printlnLogger{h.log},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

func (h *handler) metricsJSON(w http.ResponseWriter, r *http.Request) {
	m, err := h.qm.Metrics(r.Context())
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// printlnLogger gives promhttp's error log a slog.Logger.
type printlnLogger struct{ l *slog.Logger }

// Println logs v at warn level.
func (p printlnLogger) Println(v ...any) { p.l.Warn("llmqueue/httpapi: metrics: " + fmt.Sprint(v...)) }
