package httpapi

import (
	"context"
	"net/http"

	"github.com/llmqueue/llmqueue"
)

// cycleBody is the body of PUT /v1/queue/processing/cycle.
type cycleBody struct {
	Low    *int `json:"low"`
	Medium *int `json:"medium"`
	Long   *int `json:"long"`
}

// clearBody is the optional body of POST /v1/queue/clear.
type clearBody struct {
	Classes []llmqueue.Priority `json:"classes"`
}

func (h *handler) processingState(w http.ResponseWriter, r *http.Request) {
	h.answerState(w, r)
}

// control runs an operator action that takes no body, then answers 200
// with the namespace's processing state.
func (h *handler) control(action func(*llmqueue.QueueManager, context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e := h.decode(w, r, &struct{}{}, true); e != nil {
			h.fail(w, r, e)
			return
		}
		if err := action(h.qm, r.Context()); err != nil {
			h.fail(w, r, fromQueueError(err))
			return
		}
		h.answerState(w, r)
	}
}

func (h *handler) setCycle(w http.ResponseWriter, r *http.Request) {
	var body cycleBody
	if e := h.decode(w, r, &body, false); e != nil {
		h.fail(w, r, e)
		return
	}
	if body.Low == nil || body.Medium == nil || body.Long == nil {
		h.fail(w, r, &apiError{status: http.StatusBadRequest, code: "invalid_request",
			msg: "low, medium and long are required"})
		return
	}
	c := llmqueue.Cycle{Low: *body.Low, Medium: *body.Medium, Long: *body.Long}
	if err := h.qm.SetCycle(r.Context(), c); err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	h.answerState(w, r)
}

func (h *handler) answerState(w http.ResponseWriter, r *http.Request) {
	st, err := h.qm.ProcessingState(r.Context())
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *handler) clear(w http.ResponseWriter, r *http.Request) {
	var body clearBody
	if e := h.decode(w, r, &body, true); e != nil {
		h.fail(w, r, e)
		return
	}
	rep, err := h.qm.ClearQueues(r.Context(), body.Classes...)
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	h.log.Info("llmqueue/httpapi: queues cleared", "namespace", h.qm.Namespace(), "removed", rep.Total)
	writeJSON(w, http.StatusOK, rep)
}

func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	info, err := h.qm.QueueInfo(r.Context())
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	writeJSON(w, http.StatusOK, info)
}
