package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/deployconfig"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/llmqueue/llmqueue/llmqueuetest"
	"github.com/llmqueue/llmqueue/providers/providertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, envconfig.Default(), "", &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, options{grace: 30 * time.Second, concurrency: 10,
		namespace: "default", processor: "echo", lease: 30 * time.Second,
		poll: time.Second}, o)

	// The environment sets the defaults; flags override it.
	cfg, err := envconfig.FromLookup(env(map[string]string{
		"LLM_QUEUE_NAMESPACE": "fromenv", "LLM_QUEUE_CONCURRENCY": "3"}))
	require.NoError(t, err)
	o, err = parseFlags(nil, cfg, "", &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "fromenv", o.namespace)
	assert.Equal(t, 3, o.concurrency)
	o, err = parseFlags([]string{"-namespace", "fromflag", "-concurrency", "7"}, cfg, "", &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "fromflag", o.namespace)
	assert.Equal(t, 7, o.concurrency)

	for _, args := range [][]string{{"-grace", "-1s"}, {"-grace", "soon"}, {"extra"}, {"-processor", "nope"}} {
		_, err := parseFlags(args, envconfig.Default(), "", &bytes.Buffer{})
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
	assert.Equal(t, 1, run([]string{"-lease", "1s", "-start-timeout", "300ms"}, down, &stderr, nil))
	assert.Contains(t, stderr.String(), `"msg":"worker failed"`)
	assert.Contains(t, stderr.String(), "-start-timeout 300ms passed")
	assert.NotContains(t, stderr.String(), "s3cret")
}

func TestRun_LogsMigrationNotesAtStartUp(t *testing.T) {
	var stderr bytes.Buffer
	python := env(map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0?max_retries=-1", // nothing listens
		"LLM_QUEUE_MAX_EMPTY_CYCLES": "5", "LLM_QUEUE_QUOTA_WAIT_DURATION": "65"})
	assert.Equal(t, 1, run([]string{"-start-timeout", "200ms"}, python, &stderr, nil))
	assert.Contains(t, stderr.String(), `"variable":"LLM_QUEUE_MAX_EMPTY_CYCLES"`)
	assert.Contains(t, stderr.String(), `"variable":"LLM_QUEUE_QUOTA_WAIT_DURATION"`)
	assert.Contains(t, stderr.String(), `"level":"WARN","msg":"environment variable unset: llm-queue-task-manager's default no longer applies","variable":"LLM_QUEUE_TOTAL_TPM"`)

	stderr.Reset()
	fresh := env(map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0?max_retries=-1", "LLM_QUEUE_TOTAL_TPM": "90000"})
	assert.Equal(t, 1, run([]string{"-start-timeout", "200ms"}, fresh, &stderr, nil))
	assert.NotContains(t, stderr.String(), "llm-queue-task-manager")
}

func TestBackoff_DoublesUpToItsCeilingWithJitter(t *testing.T) {
	b := backoff{first: 100 * time.Millisecond, max: time.Second}
	for n, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 20 {
			d := b.wait(n)
			assert.LessOrEqual(t, d, base, "retry %d", n)
			assert.GreaterOrEqual(t, d, base*4/5, "retry %d", n)
		}
	}
}

// TestWaitForRedis_RetriesUntilRedisAnswers: each failure is logged with
// its attempt number and the pause before the next try, and the wait ends
// at the first success.
func TestWaitForRedis_RetriesUntilRedisAnswers(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	down := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	calls := 0
	ping := func(ctx context.Context) error {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("each ping must be bounded by the op timeout")
		}
		if calls <= 3 {
			return down
		}
		return nil
	}
	err := waitForRedis(context.Background(), ping, time.Second, backoff{first: time.Millisecond, max: 4 * time.Millisecond}, log)
	require.NoError(t, err)
	assert.Equal(t, 4, calls)
	var retries []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == "redis unreachable at start-up; retrying" {
			retries = append(retries, m)
		}
	}
	require.Len(t, retries, 3, logs.String())
	for i, m := range retries {
		assert.EqualValues(t, i+1, m["attempt"])
		assert.Equal(t, down.Error(), m["error"])
		assert.NotEmpty(t, m["retry_in"])
	}
	assert.Contains(t, logs.String(), `"msg":"redis reachable; starting","attempts":4`)
}

// TestWaitForRedis_EndsWithItsContext: a signal or start-up deadline
// (ctx's cause) ends the wait at once, even in the middle of a long pause,
// and the error names both the cause and Redis's last answer.
func TestWaitForRedis_EndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("signal terminated")
	time.AfterFunc(50*time.Millisecond, func() { cancel(stop) })
	down := errors.New("connection refused")
	start := time.Now()
	err := waitForRedis(ctx, func(context.Context) error { return down }, time.Second,
		backoff{first: time.Hour, max: time.Hour}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.ErrorIs(t, err, stop)
	assert.ErrorIs(t, err, down)
}

// TestRun_WaitsForRedisAtStartUp is issue 9 item 14's regression test: a
// worker started while Redis is down used to exit 1 at once. It must log
// its retries, start once Redis is back, and run the queue.
func TestRun_WaitsForRedisAtStartUp(t *testing.T) {
	k := llmqueuetest.New(t, nil, llmqueuetest.WithManagerConfig(llmqueue.Config{Namespace: "late"}))
	url := "redis://" + k.Mini.Addr()
	k.Mini.Close()
	sigs := make(chan os.Signal, 1)
	var stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run([]string{"-namespace", "late", "-poll", "20ms", "-grace", "1s"},
			env(map[string]string{"REDIS_URL": url + "?max_retries=-1"}), &stderr, sigs)
	}()
	waitFor(t, exit, &stderr, `"msg":"redis unreachable at start-up; retrying","attempt":2`)

	require.NoError(t, k.Mini.Restart())
	id := k.Add(llmqueue.NewRequest(map[string]string{"q": "late"}))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := k.Manager.Wait(ctx, id)
	require.NoError(t, err, stderr.String())
	assert.Equal(t, llmqueue.StatusCompleted, st.Status)
	assert.Contains(t, stderr.String(), `"msg":"worker started"`)

	sigs <- syscall.SIGTERM
	select {
	case code := <-exit:
		assert.Equal(t, 0, code, stderr.String())
	case <-ctx.Done():
		t.Fatal("worker did not stop after the signal")
	}
}

// TestRun_SignalWhileWaitingForRedisExitsCleanly: Ctrl-C during the
// start-up wait ends the worker at once with status 0; nothing had started.
func TestRun_SignalWhileWaitingForRedisExitsCleanly(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	var stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(nil, env(map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0?max_retries=-1"}), &stderr, sigs)
	}()
	waitFor(t, exit, &stderr, `"msg":"redis unreachable at start-up; retrying"`)
	sigs <- syscall.SIGINT
	select {
	case code := <-exit:
		assert.Equal(t, 0, code, stderr.String())
		assert.Contains(t, stderr.String(), `"msg":"stopped before starting"`)
		assert.NotContains(t, stderr.String(), `"msg":"worker started"`)
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop on the signal while waiting for Redis")
	}
}

// waitFor waits until the worker's log holds want, failing if the worker
// exits first or it takes over 10 seconds.
func waitFor(t *testing.T, exit <-chan int, stderr *lockedBuffer, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(stderr.String(), want) {
		select {
		case code := <-exit:
			t.Fatalf("worker exited %d before logging %s:\n%s", code, want, stderr.String())
		case <-deadline:
			t.Fatalf("no %s in the worker's log after 10s:\n%s", want, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
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
	k := llmqueuetest.New(t, nil, llmqueuetest.WithManagerConfig(llmqueue.Config{Namespace: "ex"}))
	id := k.Add(llmqueue.NewRequest(map[string]string{"q": "hi"}))

	rec := filepath.Join(t.TempDir(), "runs")
	sigs := make(chan os.Signal, 1)
	var stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run([]string{"-namespace", "ex", "-record", rec, "-poll", "20ms", "-grace", "1s"},
			env(map[string]string{"REDIS_URL": "redis://" + k.Mini.Addr()}), &stderr, sigs)
	}()
	st := k.WaitStatus(id, llmqueue.StatusCompleted)
	var out map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(st.Result, &out))
	assert.JSONEq(t, `{"q":"hi"}`, string(out["echo"]))

	sigs <- syscall.SIGTERM
	select {
	case code := <-exit:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(10 * time.Second):
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

// With a deployments file the worker runs a Router over the deployments it
// lists: here two fake OpenAI servers, one of them down, so every request
// completes on the other without spending a retry.
func TestRun_DeploymentsFileRunsARouter(t *testing.T) {
	k := llmqueuetest.New(t, nil, llmqueuetest.WithManagerConfig(llmqueue.Config{Namespace: "ex-router"}))
	up := providertest.NewOpenAIServer(providertest.OpenAIOptions{APIKey: "sk-up"})
	t.Cleanup(up.Close)
	down := providertest.NewOpenAIServer(providertest.OpenAIOptions{})
	down.Close()
	file := filepath.Join(t.TempDir(), "deployments.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"deployments":[
		{"name":"down","provider":"openai","model":"gpt-4o-mini","base_url":"`+down.BaseURL()+`","api_key_env":"KEY_DOWN","timeout":"2s"},
		{"name":"up","provider":"openai","model":"gpt-4o-mini","base_url":"`+up.BaseURL()+`","api_key_env":"KEY_UP","limits":{"tpm":1000000}}]}`), 0o600))
	var ids []string
	for i := range 10 {
		ids = append(ids, k.Add(llmqueue.NewRequest(json.RawMessage(`{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi `+strconv.Itoa(i)+`"}]}`))))
	}

	sigs := make(chan os.Signal, 1)
	var stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run([]string{"-namespace", "ex-router", "-poll", "20ms", "-grace", "1s"},
			env(map[string]string{"REDIS_URL": "redis://" + k.Mini.Addr(), deployconfig.EnvFile: file,
				"KEY_UP": "sk-up", "KEY_DOWN": "sk-down"}), &stderr, sigs)
	}()
	for _, id := range ids {
		st := k.WaitStatus(id, llmqueue.StatusCompleted)
		assert.Equal(t, 1, st.Attempts, "a failover spends no retry")
	}
	assert.Equal(t, int64(10), up.Stats().Completed)

	sigs <- syscall.SIGTERM
	select {
	case code := <-exit:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop after the signal")
	}
	logs := stderr.String()
	assert.Contains(t, logs, `"deployments":["down","up"]`)
	for _, msg := range []string{`"msg":"worker started"`, `"msg":"shutting down"`, `"msg":"worker stopped"`} {
		assert.Contains(t, logs, msg)
	}
	assert.NotContains(t, logs, "sk-up", "no key in the logs")
}

func TestRun_BadDeploymentsFileExits2(t *testing.T) {
	file := filepath.Join(t.TempDir(), "deployments.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"deployments":[{"name":"a","provider":"azure","model":"m"}]}`), 0o600))
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"from the flag", []string{"-deployments", file}, nil, `unknown provider "azure"`},
		{"from the environment", nil, map[string]string{deployconfig.EnvFile: file}, `unknown provider "azure"`},
		{"missing", []string{"-deployments", file + ".nope"}, nil, "no such file"},
		{"with -record", []string{"-deployments", file, "-record", "x"}, nil, "-record does not apply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			assert.Equal(t, 2, run(tc.args, env(tc.env), &stderr, nil))
			assert.Contains(t, stderr.String(), tc.want)
		})
	}
}

// lockedBuffer is a bytes.Buffer that the program's goroutines write while
// the test reads it. (Local, so this example copies out of the repository.)
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
