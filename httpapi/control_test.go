package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/llmqueue/llmqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessing_PauseResumeAndCycleOverHTTP(t *testing.T) {
	e := newEnv(t, config{})
	state := func(method, path, body string) llmqueue.ProcessingState {
		t.Helper()
		status, _, b := e.do(method, path, body)
		require.Equal(t, http.StatusOK, status, "%s %s: %s", method, path, b)
		var st llmqueue.ProcessingState
		require.NoError(t, json.Unmarshal(b, &st))
		return st
	}
	assert.Equal(t, llmqueue.ProcessingState{}, state("GET", "/v1/queue/processing", ""))

	st := state("POST", "/v1/queue/processing/pause", "")
	assert.True(t, st.Paused)
	assert.NotNil(t, st.PausedAt)
	got, err := e.qm.ProcessingState(context.Background())
	require.NoError(t, err)
	assert.True(t, got.Paused, "the pause is the namespace's, kept in Redis")

	st = state("PUT", "/v1/queue/processing/cycle", `{"low": 5, "medium": 2, "long": 1}`)
	require.NotNil(t, st.Cycle)
	assert.Equal(t, llmqueue.Cycle{Low: 5, Medium: 2, Long: 1}, *st.Cycle)

	cases := []struct {
		name, body string
		code       string
	}{
		{"zero slots starve a class", `{"low": 5, "medium": 0, "long": 1}`, "invalid_request"},
		{"missing class", `{"low": 5, "medium": 2}`, "invalid_request"},
		{"unknown field", `{"low": 5, "medium": 2, "long": 1, "huge": 1}`, "invalid_request"},
		{"not JSON", `{`, "invalid_json"},
		{"negative", `{"low": -1, "medium": 2, "long": 1}`, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, b := e.do("PUT", "/v1/queue/processing/cycle", tc.body)
			require.Equal(t, http.StatusBadRequest, status, "%s", b)
		})
	}
	st = state("GET", "/v1/queue/processing", "")
	assert.Equal(t, llmqueue.Cycle{Low: 5, Medium: 2, Long: 1}, *st.Cycle, "a refused cycle changes nothing")

	st = state("DELETE", "/v1/queue/processing/cycle", "")
	assert.Nil(t, st.Cycle)
	st = state("POST", "/v1/queue/processing/resume", "")
	assert.False(t, st.Paused)
}

func TestClear_CancelsQueuedRequestsOverHTTP(t *testing.T) {
	e := newEnv(t, config{})
	ctx := context.Background()
	var low []string
	for range 3 {
		id, err := e.qm.Add(ctx, llmqueue.NewRequest(`{}`, llmqueue.WithEstimatedTokens(10)))
		require.NoError(t, err)
		low = append(low, id)
	}
	_, err := e.qm.Add(ctx, llmqueue.NewRequest(`{}`, llmqueue.WithEstimatedTokens(10), llmqueue.WithPriority(llmqueue.PriorityLong)))
	require.NoError(t, err)

	e.expectError("POST", "/v1/queue/clear", `{"classes": ["urgent"]}`, http.StatusBadRequest, "invalid_request")
	status, _, b := e.do("POST", "/v1/queue/clear", `{"classes": ["low"]}`)
	require.Equal(t, http.StatusOK, status, "%s", b)
	var rep llmqueue.ClearReport
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Equal(t, llmqueue.ClearReport{Removed: map[llmqueue.Priority]int64{llmqueue.PriorityLow: 3}, Total: 3}, rep)
	st, err := e.qm.Status(ctx, low[0])
	require.NoError(t, err)
	assert.Equal(t, llmqueue.StatusCanceled, st.Status)

	status, _, b = e.do("POST", "/v1/queue/clear", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.EqualValues(t, 1, rep.Total)
	assert.EqualValues(t, 1, rep.Removed[llmqueue.PriorityLong])
}

func TestInfo_DescribesTheNamespace(t *testing.T) {
	e := newEnv(t, config{manager: llmqueue.Config{Namespace: "svc"}})
	status, _, b := e.do("GET", "/v1/queue/info", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	var info llmqueue.QueueInfo
	require.NoError(t, json.Unmarshal(b, &info))
	assert.Equal(t, "svc", info.Namespace)
	require.Len(t, info.Queues, 3)
	assert.Equal(t, llmqueue.PriorityLong, info.Queues[2].Class)
}

func TestCreate_PriorityOverridesTheClass(t *testing.T) {
	e := newEnv(t, config{})
	status, _, b := e.do("POST", "/v1/queue/requests", `{"payload": {"q": 1}, "estimated_tokens": 10, "priority": "long"}`)
	require.Equal(t, http.StatusCreated, status, "%s", b)
	var reply createReply
	require.NoError(t, json.Unmarshal(b, &reply))
	assert.Equal(t, llmqueue.PriorityLong, reply.Priority)
	e.expectError("POST", "/v1/queue/requests", `{"payload": {"q": 1}, "priority": "urgent"}`, http.StatusBadRequest, "invalid_request")
}
