package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

// TestCancel_TwiceAnswers200BothTimes: cancel is idempotent, so a client
// that retries after a lost reply is told the request is canceled, not
// that it is in the wrong state.
func TestCancel_TwiceAnswers200BothTimes(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		e := newEnvOn(t, s, config{})
		id := e.create(`{"payload": {"q": 1}}`).ID
		for i := range 2 {
			status, _, b := e.do(http.MethodPost, "/v1/queue/requests/"+id+"/cancel", "")
			require.Equal(t, http.StatusOK, status, "cancel %d: %s", i+1, b)
			var st llmqueue.RequestStatus
			require.NoError(t, json.Unmarshal(b, &st))
			require.Equal(t, llmqueue.StatusCanceled, st.Status)
		}
	})
}

// TestResume_WithoutInputIs400: an empty body or one without "input" must
// not approve a suspended request; {"input": null} is an explicit answer.
func TestResume_WithoutInputIs400(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		e := newEnvOn(t, s, config{})
		e.startProcessor(llmqueue.ProcessorFunc(approvalProcessor), nil)
		id := e.create(`{"payload": {"task": "write a memo"}}`).ID
		e.waitStatus(id, llmqueue.StatusSuspended)

		path := "/v1/queue/requests/" + id + "/resume"
		for _, body := range []string{"", "{}"} {
			msg := e.expectError(http.MethodPost, path, body, http.StatusBadRequest, "missing_input")
			require.Contains(t, msg, "input")
			require.Equal(t, llmqueue.StatusSuspended, e.status(id).Status, "body %q", body)
		}

		status, _, b := e.do(http.MethodPost, path, `{"input": null}`)
		require.Equal(t, http.StatusOK, status, "body: %s", b)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		final, err := e.qm.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, llmqueue.StatusCompleted, final.Status)
		require.JSONEq(t, `{"input": null, "state": {"draft": "v1"}}`, string(final.Result))
	})
}
