package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/llmqueue/llmqueue"
)

// Paging limits of GET /v1/queue/requests.
const (
	defaultListLimit = 50
	maxListLimit     = 1000 // llmqueue.Inspector.List's own bound
)

// listReply is the answer to GET /v1/queue/requests.
type listReply struct {
	Items      []*llmqueue.RequestStatus `json:"items"`
	NextCursor string                    `json:"next_cursor"` // "" after the last page
}

// requeueDeadReply is the answer to POST /v1/queue/requeue-dead.
type requeueDeadReply struct {
	Requeued int `json:"requeued"`
}

// workersReply is the answer to GET /v1/queue/workers.
type workersReply struct {
	Workers []llmqueue.WorkerInfo `json:"workers"`
}

// list answers one page of the requests in a state, read with
// llmqueue.Inspector.List, each as its status without payload and result
// (GET /v1/queue/requests/{id} has them). A request that ended or expired
// between the listing and its read is left out, so a page may hold fewer
// items than the limit and still have a next cursor.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := llmqueue.Status(q.Get("state"))
	if state == "" {
		h.fail(w, r, &apiError{status: http.StatusBadRequest, code: "invalid_request",
			msg: "state is required: queued, active, retrying, suspended or dead"})
		return
	}
	limit := defaultListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			h.fail(w, r, &apiError{status: http.StatusBadRequest, code: "invalid_request",
				msg: fmt.Sprintf("limit must be a whole number from 1 to %d", maxListLimit)})
			return
		}
		limit = n
	}
	in := h.qm.Inspector()
	page, err := in.List(r.Context(), state, q.Get("cursor"), limit)
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	reply := listReply{Items: make([]*llmqueue.RequestStatus, 0, len(page.IDs)), NextCursor: page.Next}
	for _, id := range page.IDs {
		st, err := in.Request(r.Context(), id)
		if errors.Is(err, llmqueue.ErrNotFound) {
			continue
		}
		if err != nil {
			h.fail(w, r, fromQueueError(err))
			return
		}
		st.Payload, st.Result = nil, nil
		reply.Items = append(reply.Items, st)
	}
	writeJSON(w, http.StatusOK, reply)
}

// requeue queues a dead request again and answers 200 with its status.
func (h *handler) requeue(w http.ResponseWriter, r *http.Request) {
	if e := h.decode(w, r, &struct{}{}, true); e != nil {
		h.fail(w, r, e)
		return
	}
	id := r.PathValue("id")
	in := h.qm.Inspector()
	if err := in.Requeue(r.Context(), id); err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	st, err := in.Request(r.Context(), id)
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// requeueDead requeues every dead request and answers how many.
func (h *handler) requeueDead(w http.ResponseWriter, r *http.Request) {
	if e := h.decode(w, r, &struct{}{}, true); e != nil {
		h.fail(w, r, e)
		return
	}
	n, err := h.qm.Inspector().RequeueDead(r.Context())
	if err != nil {
		// Some may have moved before the failure; the log says how many.
		h.log.Warn("llmqueue/httpapi: requeue-dead stopped early", "requeued", n)
		h.fail(w, r, fromQueueError(err))
		return
	}
	h.log.Info("llmqueue/httpapi: dead requests requeued", "namespace", h.qm.Namespace(), "requeued", n)
	writeJSON(w, http.StatusOK, requeueDeadReply{Requeued: n})
}

func (h *handler) counts(w http.ResponseWriter, r *http.Request) {
	c, err := h.qm.Inspector().Counts(r.Context())
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (h *handler) workers(w http.ResponseWriter, r *http.Request) {
	ws, err := h.qm.Inspector().Workers(r.Context())
	if err != nil {
		h.fail(w, r, fromQueueError(err))
		return
	}
	if ws == nil {
		ws = []llmqueue.WorkerInfo{}
	}
	writeJSON(w, http.StatusOK, workersReply{Workers: ws})
}
