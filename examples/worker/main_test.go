package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/lockedbuf"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, llmqueue.DefaultConfig(), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, options{grace: 30 * time.Second, concurrency: llmqueue.DefaultConcurrency,
		namespace: llmqueue.DefaultNamespace, processor: "echo", lease: llmqueue.DefaultLease,
		poll: llmqueue.DefaultPollInterval}, o)

	// The environment sets the defaults; flags override it.
	cfg, err := llmqueue.ConfigFromLookup(env(map[string]string{
		"LLM_QUEUE_NAMESPACE": "fromenv", "LLM_QUEUE_CONCURRENCY": "3"}))
	require.NoError(t, err)
	o, err = parseFlags(nil, cfg, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "fromenv", o.namespace)
	assert.Equal(t, 3, o.concurrency)
	o, err = parseFlags([]string{"-namespace", "fromflag", "-concurrency", "7"}, cfg, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "fromflag", o.namespace)
	assert.Equal(t, 7, o.concurrency)

	for _, args := range [][]string{{"-grace", "-1s"}, {"-grace", "soon"}, {"extra"}, {"-processor", "nope"}} {
		_, err := parseFlags(args, llmqueue.DefaultConfig(), &bytes.Buffer{})
		assert.Error(t, err, "%q", args)
	}
	var stderr bytes.Buffer
	assert.Equal(t, 2, run([]string{"-processor", "nope"}, env(nil), &stderr, nil))
	assert.Contains(t, stderr.String(), `unknown processor "nope"`)
	assert.Equal(t, 0, run([]string{"-h"}, env(nil), &stderr, nil))
}

// env returns a lookup that answers from vars, like os.LookupEnv.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestRun_BadSettingsFailWithoutLeakingThePassword(t *testing.T) {
	var stderr bytes.Buffer
	bad := env(map[string]string{"REDIS_URL": "redis://:s3cret@127.0.0.1:bad/0", "LLM_QUEUE_CONCURRENCY": "x"})
	assert.Equal(t, 2, run(nil, bad, &stderr, nil))
	assert.Contains(t, stderr.String(), "REDIS_URL")
	assert.Contains(t, stderr.String(), "LLM_QUEUE_CONCURRENCY")
	assert.NotContains(t, stderr.String(), "s3cret")

	stderr.Reset()
	down := env(map[string]string{"REDIS_URL": "redis://:s3cret@127.0.0.1:1/0?max_retries=-1"}) // nothing listens on port 1
	assert.Equal(t, 1, run([]string{"-lease", "1s"}, down, &stderr, nil))
	assert.Contains(t, stderr.String(), `"msg":"worker failed"`)
	assert.NotContains(t, stderr.String(), "s3cret")
}

func TestSleep_HonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("shutting down")
	cancel(cause)
	start := time.Now()
	_, err := sleep(ctx, &llmqueue.Job{Payload: []byte(`{"sleep_ms": 60000}`)})
	assert.ErrorIs(t, err, cause)
	assert.Less(t, time.Since(start), time.Second)

	res, err := sleep(context.Background(), &llmqueue.Job{Attempt: 2, Payload: []byte(`{"sleep_ms": 5}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"pid":`+strconv.Itoa(os.Getpid())+`,"attempt":2,"slept_ms":5}`, string(res.Output))

	for _, p := range []string{`[]`, `{"sleep_ms": -1}`} {
		_, err := sleep(context.Background(), &llmqueue.Job{Payload: []byte(p)})
		var perm *llmqueue.PermanentError
		assert.ErrorAs(t, err, &perm, p)
	}
}

// TestRun_ProcessesAndStopsOnSignal runs the whole worker in-process on
// miniredis: it completes a request, records the run, and exits 0 on a
// signal. The multi-process tests are in internal/workertest.
func TestRun_ProcessesAndStopsOnSignal(t *testing.T) {
	s := redistest.StartMini(t)
	qm, err := llmqueue.NewQueueManager(s.Client(t), llmqueue.WithNamespace("ex"))
	require.NoError(t, err)
	id, err := qm.Add(context.Background(), llmqueue.NewRequest(map[string]string{"q": "hi"}))
	require.NoError(t, err)

	rec := filepath.Join(t.TempDir(), "runs")
	sigs := make(chan os.Signal, 1)
	var stderr lockedbuf.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- run([]string{"-namespace", "ex", "-record", rec, "-poll", "20ms", "-grace", "1s"},
			env(map[string]string{"REDIS_URL": s.URL()}), &stderr, sigs)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := qm.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, llmqueue.StatusCompleted, st.Status)
	var out map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(st.Result, &out))
	assert.JSONEq(t, `{"q":"hi"}`, string(out["echo"]))

	sigs <- syscall.SIGTERM
	select {
	case code := <-exit:
		assert.Equal(t, 0, code, stderr.String())
	case <-ctx.Done():
		t.Fatal("worker did not stop after the signal")
	}
	b, err := os.ReadFile(rec)
	require.NoError(t, err)
	assert.Equal(t, id+" 1 "+strconv.Itoa(os.Getpid())+"\n", string(b))
	for _, msg := range []string{`"msg":"worker started"`, `"msg":"shutting down"`, `"msg":"worker stopped"`} {
		assert.Contains(t, stderr.String(), msg)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		assert.True(t, json.Valid([]byte(line)), "log line %q is not JSON", line)
	}
}
