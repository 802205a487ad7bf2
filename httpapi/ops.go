package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// healthTimeout bounds the Redis calls of one health check, so a probe
// gets an answer even when Redis hangs.
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
}

// health answers 200 when Redis answers PING and at least minWorkers
// workers are alive, 503 otherwise.
func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	reply := healthReply{Status: "unavailable", Redis: "unreachable", MinWorkers: h.minWorkers}
	if err := h.qm.Client().Ping(ctx).Err(); err != nil {
		h.log.Warn("llmqueue/httpapi: health: redis ping failed", "error", err.Error())
		writeJSON(w, http.StatusServiceUnavailable, reply)
		return
	}
	reply.Redis = "ok"
	m, err := h.qm.Metrics(ctx)
	if err != nil {
		h.log.Warn("llmqueue/httpapi: health: reading the worker registry failed", "error", err.Error())
		writeJSON(w, http.StatusServiceUnavailable, reply)
		return
	}
	reply.Workers = len(m.Workers)
	status := http.StatusServiceUnavailable
	if reply.Workers >= h.minWorkers {
		reply.Status, status = "ok", http.StatusOK
	}
	writeJSON(w, status, reply)
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
