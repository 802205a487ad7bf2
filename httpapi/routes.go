package httpapi

import (
	"net/http"

	"github.com/llmqueue/llmqueue"
)

// route is one route of the handler: a Go 1.22 ServeMux method and path
// pattern and what serves it. routes is the one list New registers, and
// the OpenAPI document (openapi.json) is tested against it.
type route struct {
	method string
	path   string // a ServeMux path pattern: {name} wildcards, {$} for an exact trailing slash
	serve  http.Handler
}

// pattern is the route's ServeMux pattern, "GET /v1/queue/info".
func (rt route) pattern() string { return rt.method + " " + rt.path }

// routes lists every route the handler serves, in the order of the
// package doc.
func (h *handler) routes() []route {
	hf := func(f http.HandlerFunc) http.Handler { return f }
	return []route{
		{http.MethodPost, "/v1/queue/requests", hf(h.create)},
		{http.MethodGet, "/v1/queue/requests/{id}", hf(h.get)},
		{http.MethodPost, "/v1/queue/requests/{id}/cancel", hf(h.cancel)},
		{http.MethodPost, "/v1/queue/requests/{id}/resume", hf(h.resume)},
		{http.MethodGet, "/v1/queue/requests", hf(h.list)},
		{http.MethodPost, "/v1/queue/requests/{id}/requeue", hf(h.requeue)},
		{http.MethodPost, "/v1/queue/requeue-dead", hf(h.requeueDead)},
		{http.MethodGet, "/v1/queue/counts", hf(h.counts)},
		{http.MethodGet, "/v1/queue/workers", hf(h.workers)},
		{http.MethodGet, "/v1/queue/metrics", h.metricsHandler()},
		{http.MethodGet, "/v1/queue/metrics.json", hf(h.metricsJSON)},
		{http.MethodGet, "/v1/queue/health", hf(h.health)},
		{http.MethodGet, "/v1/queue/processing", hf(h.processingState)},
		{http.MethodPost, "/v1/queue/processing/pause", hf(h.control((*llmqueue.QueueManager).PauseProcessing))},
		{http.MethodPost, "/v1/queue/processing/resume", hf(h.control((*llmqueue.QueueManager).ResumeProcessing))},
		{http.MethodPut, "/v1/queue/processing/cycle", hf(h.setCycle)},
		{http.MethodDelete, "/v1/queue/processing/cycle", hf(h.control((*llmqueue.QueueManager).ClearCycle))},
		{http.MethodPost, "/v1/queue/clear", hf(h.clear)},
		{http.MethodGet, "/v1/queue/info", hf(h.info)},
		{http.MethodGet, "/v1/queue/openapi.json", hf(h.openAPI)},
		{http.MethodGet, "/v1/queue/ui", hf(h.uiRedirect)},
		{http.MethodGet, "/v1/queue/ui/{$}", hf(h.uiIndex)},
		{http.MethodGet, "/v1/queue/ui/{asset}", hf(h.uiAsset)},
	}
}
