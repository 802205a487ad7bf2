package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// status reads a request's status in the fixture.
func (f *fixture) status(t *testing.T, id string) llmqueue.Status {
	t.Helper()
	st, err := f.qm.Status(context.Background(), id)
	require.NoError(t, err)
	return st.Status
}

func TestCancel_EachIDWithTheWorstExitCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.run(t, "cancel", idLow1, idActive, idCompleted, "no-such-id", idCanceled)
	assert.Equal(t, exitConflict, r.code, "conflict (4) beats not found (3)")
	assert.Equal(t, idLow1+": canceled\n"+idActive+": cancel requested (running: its worker stops it)\n"+idCanceled+": canceled\n", r.stdout)
	assert.Regexp(t, `(?m)^req-completed: llmqueue: cancel req-completed: operation not allowed in this state: request is completed$`, r.stderr)
	assert.Regexp(t, `(?m)^no-such-id: llmqueue: cancel no-such-id: request not found$`, r.stderr)
	assert.Equal(t, llmqueue.StatusCanceled, f.status(t, idLow1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, waitStatus(ctx, f.qm, idActive, llmqueue.StatusCanceled))

	r = f.run(t, "cancel", "no-such-id")
	assert.Equal(t, exitNotFound, r.code)
	r = f.run(t, "cancel")
	assert.Equal(t, exitUsage, r.code)
}

func TestResume_SuspendedRequestWithInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.run(t, "resume", idSuspended, "--input", "{not json")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--input is not valid JSON")
	r = f.run(t, "resume", idSuspended)
	assert.Equal(t, exitUsage, r.code)
	r = f.run(t, "resume", idSuspended, "--input", "@"+filepath.Join(t.TempDir(), "missing.json"))
	assert.Equal(t, exitUsage, r.code)
	assert.Equal(t, llmqueue.StatusSuspended, f.status(t, idSuspended))

	file := filepath.Join(t.TempDir(), "answer.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"approved": true}`), 0o600))
	r = f.run(t, "resume", idSuspended, "--input", "@"+file)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, idSuspended+": resumed (queued again)\n", r.stdout)
	assert.Equal(t, llmqueue.StatusQueued, f.status(t, idSuspended), "processing is paused, so it stays queued")

	r = f.run(t, "resume", idSuspended, "--input", `{"approved": true}`)
	assert.Equal(t, exitConflict, r.code)
	r = f.run(t, "resume", "no-such-id", "--input", `null`)
	assert.Equal(t, exitNotFound, r.code)
}

func TestRequeue_DeadRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.run(t, "requeue", idDead, idLow2, "no-such-id")
	assert.Equal(t, exitConflict, r.code)
	assert.Equal(t, idDead+": requeued\n", r.stdout)
	assert.Contains(t, r.stderr, idLow2+": ")
	assert.Contains(t, r.stderr, "no-such-id: ")
	assert.Equal(t, llmqueue.StatusQueued, f.status(t, idDead))

	r = f.run(t, "requeue", "--all-dead")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "requeued 0 dead requests\n", r.stdout)

	r = f.run(t, "requeue", idDead, "--all-dead")
	assert.Equal(t, exitUsage, r.code)
	r = f.run(t, "requeue")
	assert.Equal(t, exitUsage, r.code)
}

func TestWorkers_ListsTheLiveWorker(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var doc workersDoc
	f.runJSON(t, &doc, "workers", "--json")
	require.Len(t, doc.Workers, 1)
	w := doc.Workers[0]
	assert.Equal(t, workerID, w.ID)
	assert.Equal(t, os.Getpid(), w.PID)
	assert.Equal(t, 4, w.Concurrency)

	r := f.run(t, "workers")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^WORKER\s+HOST\s+PID\s+IN FLIGHT\s+PROCESSED\s+UP$`, r.stdout)
	assert.Regexp(t, `(?m)^`+workerID+`\s+\S+\s+`+itoa(int64(os.Getpid()))+`\s+\d/4\s+\d+\s+\S+$`, r.stdout)

	r = cli(t, []string{"REDIS_URL=" + f.srv.URL(), "LLM_QUEUE_NAMESPACE=empty"}, "workers")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "no live workers\n", r.stdout)
	r = cli(t, []string{"REDIS_URL=" + f.srv.URL(), "LLM_QUEUE_NAMESPACE=empty"}, "workers", "--json")
	assert.JSONEq(t, `{"workers":[]}`, r.stdout)
}
