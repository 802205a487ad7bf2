// Package httpapi serves an llmqueue namespace over HTTP, for a web service
// that queues requests and lets people follow, cancel and resume them while
// worker processes do the work.
//
// New returns an http.Handler with these routes (Go 1.22 ServeMux
// patterns), all answering JSON unless noted:
//
//	POST /v1/queue/requests              queue a request: 201 {"id", "status", "priority"}
//	GET  /v1/queue/requests/{id}         the request's llmqueue.RequestStatus
//	POST /v1/queue/requests/{id}/cancel  cancel it: 200 when canceled (again, if it already was), 202 when it is running and asked to stop
//	POST /v1/queue/requests/{id}/resume  resume a suspended request with {"input": ...}; input is required (null is an answer), 400 without it
//	GET  /v1/queue/requests?state=dead&cursor=&limit=50
//	                                     a page of the requests in a state: {"items": [RequestStatus without payload and result], "next_cursor": ""}
//	POST /v1/queue/requests/{id}/requeue queue a dead request again: 200 with its status, 409 when it is not dead
//	POST /v1/queue/requeue-dead          requeue every dead request: 200 {"requeued": n}
//	GET  /v1/queue/counts                the llmqueue.QueueCounts: requests per indexed state
//	GET  /v1/queue/workers               the live workers: {"workers": [llmqueue.WorkerInfo]}
//	GET  /v1/queue/metrics               Prometheus text exposition
//	GET  /v1/queue/metrics.json          the llmqueue.Metrics snapshot
//	GET  /v1/queue/processing            the llmqueue.ProcessingState: paused, cycle override
//	POST /v1/queue/processing/pause      pause leasing for every worker of the namespace (in-flight work finishes)
//	POST /v1/queue/processing/resume     resume it
//	PUT  /v1/queue/processing/cycle      set every worker's cycle: {"low": 3, "medium": 2, "long": 1}
//	DELETE /v1/queue/processing/cycle    return the workers to their own cycles
//	POST /v1/queue/clear                 cancel every queued request, or those of {"classes": ["low"]}: 200 llmqueue.ClearReport
//	GET  /v1/queue/info                  the llmqueue.QueueInfo: config, queues, Redis server
//	GET  /v1/queue/health                Redis ping, live workers and the WithHealthCheck checks: 200 or 503
//	GET  /v1/queue/openapi.json          the OpenAPI 3.1 document of these routes
//	GET  /v1/queue/ui/                   the live web dashboard (HTML; /v1/queue/ui redirects to it)
//	GET  /v1/queue/ui/{asset}            its script and style sheet
//
// GET /v1/queue/requests lists queued (in lease order), active, retrying,
// suspended and dead requests, with llmqueue.Inspector.List; state is
// required, limit is 1-1000 (50 by default) and cursor is the previous
// page's next_cursor ("" after the last page). Completed and canceled
// requests have no index and answer 400 with code "not_indexed"; read one
// by its ID instead. A request that ends or expires while its page is read
// is left out, so a page may be shorter than limit.
//
// The dashboard, at DashboardPath, is plain HTML, CSS and JavaScript
// embedded in the binary (no build step, no other origin, it works
// offline). It polls metrics.json and the request lists every 1.5 seconds
// and draws queue depths, budget use per limited dimension and the last
// minute's throughput, 429s and cool-down, with tables of workers and of
// dead, suspended, active and queued requests whose buttons requeue,
// cancel and resume them through the routes above. The auth hook sees its
// requests like any other; the page sends the token typed into it as
// "Authorization: Bearer ..." on every call (see IsDashboardAsset), and
// shows a 401 or 403 as a message.
//
// The body of POST /v1/queue/requests is
//
//	{"payload": {...}, "estimated_tokens": 1200, "max_retries": 3,
//	 "timeout_seconds": 600, "meta": {"user": "u1"}, "id": "optional-id",
//	 "priority": "long"}
//
// where only payload is required, priority (low, medium or long) overrides
// the class the estimate would choose, and id, when given, is 1-200 of
// [A-Za-z0-9._:-]. Bodies are limited in size (1 MiB by default) and must
// not carry unknown fields. Every error is a JSON body
// {"error": {"code": "not_found", "message": "..."}} with a status code
// that follows the llmqueue sentinel errors: 400 for invalid input, 401 or
// 403 when the auth hook refuses, 404 for an unknown request, 409 for a
// duplicate ID or an operation the request's state does not allow, 413 for
// an oversized body, 422 for an estimate above the budget, and 503 when
// Redis cannot be reached. Payloads and resume inputs are never written to
// error bodies or logs; the one message a caller's code controls is a
// Validator's error, which is passed on as the 400's message.
//
// The handler owns the /v1/queue/ paths; mount it at the server's root or
// route that prefix to it:
//
//	mux.Handle("/v1/queue/", httpapi.New(qm, httpapi.WithAuth(checkToken)))
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/prom"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxBodyBytes is the largest request body accepted unless
// WithMaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// ErrForbidden, returned (or wrapped) by an auth hook, answers 403 instead
// of 401: the caller is known but not allowed.
var ErrForbidden = errors.New("httpapi: forbidden")

// Option configures the handler New returns.
type Option func(*handler)

// WithAuth sets a hook that sees every request before it is routed. A
// non-nil error refuses the request with 401 (403 when it wraps
// ErrForbidden); the error's text is not sent to the client. A hook that
// wants load balancers to reach the health check lets
// GET /v1/queue/health through.
func WithAuth(f func(*http.Request) error) Option { return func(h *handler) { h.auth = f } }

// WithMaxBodyBytes limits request bodies to n bytes; larger ones are
// refused with 413. Defaults to DefaultMaxBodyBytes.
func WithMaxBodyBytes(n int64) Option {
	return func(h *handler) {
		if n > 0 {
			h.maxBody = n
		}
	}
}

// WithLogger sets the logger for failures (5xx answers at error level,
// refusals at debug level). Defaults to slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(h *handler) {
		if l != nil {
			h.log = l
		}
	}
}

// WithCollector serves c at /v1/queue/metrics instead of a collector of
// the handler's own. Pass the collector whose Observe the process's
// BatchProcessor calls, so attempt latencies and token usage appear too.
func WithCollector(c *prom.Collector) Option { return func(h *handler) { h.collector = c } }

// WithGatherer serves g at /v1/queue/metrics, as it is: the caller
// registers a prom.Collector in it (for example prometheus.DefaultGatherer
// with prom.NewCollector registered by prometheus.MustRegister). It takes
// precedence over WithCollector.
func WithGatherer(g prometheus.Gatherer) Option { return func(h *handler) { h.gatherer = g } }

// WithMinWorkers sets how many live workers the health check requires
// before it answers 200. Defaults to 1; 0 checks Redis only, for a web
// tier that should stay in rotation while the workers are down.
func WithMinWorkers(n int) Option {
	return func(h *handler) {
		if n >= 0 {
			h.minWorkers = n
		}
	}
}

// WithHealthCheck adds a check to GET /v1/queue/health, reported under
// name in the body's "checks" object as "ok", "failed" or "timeout"; the
// health check answers 503 when any check does not pass. The checks run
// side by side, bounded with the Redis calls by one short timeout (2
// seconds); one that has not returned by then is "timeout". An error or
// panic is logged, never sent: the health route is often open to
// callers the auth hook does not know. Give the option once per check; a
// later check of the same name replaces the earlier, and a nil check is
// ignored. A *llmqueue.BatchProcessor's HealthCheck method value fits:
//
//	httpapi.New(qm, httpapi.WithHealthCheck("processor", bp.HealthCheck))
func WithHealthCheck(name string, check func(context.Context) error) Option {
	return func(h *handler) {
		if check == nil {
			return
		}
		for i := range h.checks {
			if h.checks[i].name == name {
				h.checks[i].check = check
				return
			}
		}
		h.checks = append(h.checks, namedCheck{name: name, check: check})
	}
}

type handler struct {
	qm         *llmqueue.QueueManager
	mux        *http.ServeMux
	auth       func(*http.Request) error
	maxBody    int64
	log        *slog.Logger
	collector  *prom.Collector
	gatherer   prometheus.Gatherer
	minWorkers int
	checks     []namedCheck
}

// New returns the HTTP API for qm's namespace. The handler is safe for
// concurrent use.
func New(qm *llmqueue.QueueManager, opts ...Option) http.Handler {
	h := &handler{qm: qm, maxBody: DefaultMaxBodyBytes, log: slog.Default(), minWorkers: 1}
	for _, o := range opts {
		if o != nil {
			o(h)
		}
	}
	if h.gatherer == nil {
		c := h.collector
		if c == nil {
			c = prom.NewCollector(qm)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(c) // a fresh registry cannot hold a conflicting collector
		h.gatherer = reg
	}
	mux := http.NewServeMux()
	for _, rt := range h.routes() {
		mux.Handle(rt.pattern(), rt.serve)
	}
	h.mux = mux
	return h
}

// ServeHTTP checks the auth hook, then routes. The mux's own answers for
// unknown paths (404) and methods (405) are turned into JSON error bodies.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.auth != nil {
		if err := h.auth(r); err != nil {
			status, code, msg := http.StatusUnauthorized, "unauthorized", "authentication required"
			if errors.Is(err, ErrForbidden) {
				status, code, msg = http.StatusForbidden, "forbidden", "not allowed"
			}
			h.log.Debug("llmqueue/httpapi: auth hook refused a request", "method", r.Method, "path", r.URL.Path)
			writeError(w, &apiError{status: status, code: code, msg: msg})
			return
		}
	}
	next, pattern := h.mux.Handler(r)
	if pattern != "" {
		h.mux.ServeHTTP(w, r)
		return
	}
	// No route: let the mux set its headers (Allow, Location) and status,
	// then answer JSON instead of its plain-text body.
	rec := &statusRecorder{header: w.Header()}
	next.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		writeError(w, &apiError{status: rec.status, code: "not_found", msg: "no such route"})
	case http.StatusMethodNotAllowed:
		writeError(w, &apiError{status: rec.status, code: "method_not_allowed", msg: r.Method + " is not allowed here"})
	default: // redirects to a cleaned path
		w.Header().Del("Content-Type")
		w.WriteHeader(rec.status)
	}
}

// statusRecorder keeps a handler's status and headers and drops its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
