package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

// approvalProcessor suspends on its first run and, once resumed, completes
// with the human's input and the state it saved.
func approvalProcessor(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	if job.ResumeInput == nil {
		if err := job.SetMeta(ctx, "step", "drafted"); err != nil {
			return nil, err
		}
		return nil, llmqueue.Suspend("needs approval", []byte(`{"draft":"v1"}`))
	}
	out, err := json.Marshal(map[string]json.RawMessage{"input": job.ResumeInput, "state": job.State})
	if err != nil {
		return nil, err
	}
	return &llmqueue.Result{Output: out}, nil
}

func TestSuspendResume_RoundTripThroughHTTP(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		testSuspendResumeRoundTrip(t, newEnvOn(t, s, config{}))
	})
}

func testSuspendResumeRoundTrip(t *testing.T, e *env) {
	e.startProcessor(llmqueue.ProcessorFunc(approvalProcessor), nil)

	id := e.create(`{"payload": {"task": "write a memo"}}`).ID
	st := e.waitStatus(id, llmqueue.StatusSuspended)
	require.Equal(t, "needs approval", st.SuspendReason)
	require.JSONEq(t, `"drafted"`, string(st.Meta["step"]))

	status, _, b := e.do(http.MethodPost, "/v1/queue/requests/"+id+"/resume",
		`{"input": {"approved": true, "by": "alice"}}`)
	require.Equal(t, http.StatusOK, status, "body: %s", b)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	final, err := e.qm.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, llmqueue.StatusCompleted, final.Status)
	require.JSONEq(t, `{"input": {"approved": true, "by": "alice"}, "state": {"draft": "v1"}}`, string(final.Result))

	st = e.status(id)
	require.Equal(t, llmqueue.StatusCompleted, st.Status)
	require.JSONEq(t, string(final.Result), string(st.Result))
	// A finished request cannot be resumed again.
	e.expectError(http.MethodPost, "/v1/queue/requests/"+id+"/resume", `{"input": 1}`, http.StatusConflict, "invalid_state")
}

func TestCancel_SuspendedAndActiveThroughHTTP(t *testing.T) {
	e := newEnv(t, config{})
	started := make(chan string, 1)
	e.startProcessor(llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		if strings.Contains(string(job.Payload), "suspend") {
			return approvalProcessor(ctx, job)
		}
		started <- job.ID
		<-ctx.Done() // runs until canceled
		return nil, ctx.Err()
	}), &llmqueue.WorkerConfig{Lease: time.Second})

	suspended := e.create(`{"payload": {"mode": "suspend"}}`).ID
	e.waitStatus(suspended, llmqueue.StatusSuspended)
	status, _, b := e.do(http.MethodPost, "/v1/queue/requests/"+suspended+"/cancel", "")
	require.Equal(t, http.StatusOK, status, "body: %s", b)
	require.Equal(t, llmqueue.StatusCanceled, e.status(suspended).Status)

	active := e.create(`{"payload": {"mode": "block"}}`).ID
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking request never started")
	}
	status, _, b = e.do(http.MethodPost, "/v1/queue/requests/"+active+"/cancel", "")
	// 202 while the processor is being stopped; 200 when it stopped before
	// the handler read the status back.
	require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, status, "body: %s", b)
	e.waitStatus(active, llmqueue.StatusCanceled)
}
