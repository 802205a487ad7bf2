package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

// dieOnce is a processor that dead-letters each request the first time it
// sees it and completes it on any later attempt, so a requeued request
// completes.
type dieOnce struct{ seen sync.Map }

func (d *dieOnce) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	if _, again := d.seen.LoadOrStore(job.ID, true); !again {
		return nil, llmqueue.Permanent(errors.New("the model refused (first try)"))
	}
	return &llmqueue.Result{Output: json.RawMessage(`{"ok":true}`)}, nil
}

// list reads one page through GET /v1/queue/requests.
func (e *env) list(query string) listReply {
	e.t.Helper()
	status, _, b := e.do(http.MethodGet, "/v1/queue/requests?"+query, "")
	require.Equal(e.t, http.StatusOK, status, "body: %s", b)
	var r listReply
	require.NoError(e.t, json.Unmarshal(b, &r), "body: %s", b)
	return r
}

func TestList_PagesThroughAStateWithoutPayloads(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		e := newEnvOn(t, s, config{})
		var want []string
		for i := range 5 {
			want = append(want, e.create(fmt.Sprintf(`{"id": "q%d", "payload": {"secret": "p%d"}}`, i, i)).ID)
		}
		var got []string
		cursor, pages := "", 0
		for {
			page := e.list("state=queued&limit=2&cursor=" + cursor)
			pages++
			for _, it := range page.Items {
				require.Equal(t, llmqueue.StatusQueued, it.Status)
				require.Empty(t, it.Payload, "list items carry no payload")
				got = append(got, it.ID)
			}
			if page.NextCursor == "" {
				break
			}
			require.Less(t, pages, 10, "paging does not end")
			cursor = page.NextCursor
		}
		require.Equal(t, want, got, "every queued request once, in lease order")
		require.Equal(t, 3, pages)

		empty := e.list("state=dead")
		require.NotNil(t, empty.Items, "an empty page is [], not null")
		require.Empty(t, empty.Items)
		require.Empty(t, empty.NextCursor)
	})
}

func TestList_RefusesBadArguments(t *testing.T) {
	e := newEnv(t, config{})
	for _, tc := range []struct {
		query string
		code  string
	}{
		{"", "invalid_request"},
		{"state=lost", "invalid_request"},
		{"state=dead&limit=0", "invalid_request"},
		{"state=dead&limit=1001", "invalid_request"},
		{"state=dead&limit=ten", "invalid_request"},
		{"state=dead&cursor=-4", "invalid_request"},
		{"state=queued&cursor=huge:1", "invalid_request"},
		{"state=completed", "not_indexed"},
		{"state=canceled", "not_indexed"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			e.t = t
			e.expectError(http.MethodGet, "/v1/queue/requests?"+tc.query, "", http.StatusBadRequest, tc.code)
		})
	}
}

func TestRequeue_DeadRequestCompletesAndOthersAreRefused(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		e := newEnvOn(t, s, config{})
		e.startProcessor(&dieOnce{}, nil)
		id := e.create(`{"id": "d1", "payload": {"q": 1}}`).ID
		e.waitStatus(id, llmqueue.StatusDead)
		dead := e.list("state=dead")
		require.Len(t, dead.Items, 1)
		require.Equal(t, id, dead.Items[0].ID)
		require.Contains(t, dead.Items[0].Error, "refused")

		status, _, b := e.do(http.MethodPost, "/v1/queue/requests/"+id+"/requeue", "")
		require.Equal(t, http.StatusOK, status, "body: %s", b)
		var st llmqueue.RequestStatus
		require.NoError(t, json.Unmarshal(b, &st))
		require.Equal(t, id, st.ID)
		require.NotEqual(t, llmqueue.StatusDead, st.Status)
		e.waitStatus(id, llmqueue.StatusCompleted)

		for _, tc := range []struct {
			name, id, body string
			status         int
			code           string
		}{
			{"completed", id, "", http.StatusConflict, "invalid_state"},
			{"unknown", "nope", "", http.StatusNotFound, "not_found"},
			{"unknown field", id, `{"force": true}`, http.StatusBadRequest, "unknown_field"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.t = t
				e.expectError(http.MethodPost, "/v1/queue/requests/"+tc.id+"/requeue", tc.body, tc.status, tc.code)
			})
		}
	})
}

func TestRequeueDead_RequeuesEveryDeadRequest(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		e := newEnvOn(t, s, config{})
		e.startProcessor(&dieOnce{}, nil)
		ids := []string{e.create(`{"payload": 1}`).ID, e.create(`{"payload": 2}`).ID, e.create(`{"payload": 3}`).ID}
		for _, id := range ids {
			e.waitStatus(id, llmqueue.StatusDead)
		}
		for _, want := range []int{3, 0} {
			status, _, b := e.do(http.MethodPost, "/v1/queue/requeue-dead", "")
			require.Equal(t, http.StatusOK, status, "body: %s", b)
			require.JSONEq(t, fmt.Sprintf(`{"requeued": %d}`, want), string(b))
			for _, id := range ids {
				e.waitStatus(id, llmqueue.StatusCompleted)
			}
		}
		e.expectError(http.MethodPost, "/v1/queue/requeue-dead", `[1]`, http.StatusBadRequest, "invalid_json")
	})
}

func TestWorkersAndCounts_ReportTheNamespace(t *testing.T) {
	e := newEnv(t, config{})
	status, _, b := e.do(http.MethodGet, "/v1/queue/workers", "")
	require.Equal(t, http.StatusOK, status, "body: %s", b)
	require.JSONEq(t, `{"workers": []}`, string(b))

	e.create(`{"payload": 1, "priority": "long"}`)
	e.create(`{"payload": 2}`)
	status, _, b = e.do(http.MethodGet, "/v1/queue/counts", "")
	require.Equal(t, http.StatusOK, status, "body: %s", b)
	var c llmqueue.QueueCounts
	require.NoError(t, json.Unmarshal(b, &c))
	require.Equal(t, map[llmqueue.Priority]int64{"low": 1, "medium": 0, "long": 1}, c.Queued)

	bp := e.startProcessor(&dieOnce{}, &llmqueue.WorkerConfig{WorkerID: "w-api"})
	require.NotNil(t, bp)
	status, _, b = e.do(http.MethodGet, "/v1/queue/workers", "")
	require.Equal(t, http.StatusOK, status, "body: %s", b)
	var ws workersReply
	require.NoError(t, json.Unmarshal(b, &ws))
	require.Len(t, ws.Workers, 1)
	require.Equal(t, "w-api", ws.Workers[0].ID)
}
