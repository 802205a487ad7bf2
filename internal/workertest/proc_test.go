//go:build unix

package workertest

import (
	"bufio"
	"encoding/json"
	"errors"
	"github.com/llmqueue/llmqueue/internal/gobuild"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// workerCmd is examples/worker, built once per test run.
var workerCmd = gobuild.Binary{Pkg: "github.com/llmqueue/llmqueue/examples/worker"}

func TestMain(m *testing.M) {
	code := m.Run()
	workerCmd.Remove()
	os.Exit(code)
}

// workerBinary returns the path of examples/worker, built on first use.
func workerBinary(t *testing.T) string {
	t.Helper()
	bin, err := workerCmd.Path()
	require.NoError(t, err)
	return bin
}

// worker is one worker process started by a test.
type worker struct {
	name   string
	cmd    *exec.Cmd
	pid    int
	record string // its -record file
	log    string // its stderr: JSON log lines

	done     chan struct{} // closed once the process has been reaped
	state    *os.ProcessState
	exitedAt time.Time
}

// startWorker starts the worker binary with args plus -record, talking to
// redisURL, its files named after name in dir. The environment holds only
// REDIS_URL, so the caller's LLM_QUEUE_* variables cannot leak in. The
// process is killed at cleanup if it is still running.
func startWorker(t *testing.T, bin, redisURL, dir, name string, args ...string) *worker {
	t.Helper()
	w := &worker{name: name, record: filepath.Join(dir, name+".rec"),
		log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(w.log)
	require.NoError(t, err)
	defer logf.Close() // the child has its own descriptor once started
	w.cmd = exec.Command(bin, append(args, "-record", w.record)...)
	w.cmd.Env = []string{"REDIS_URL=" + redisURL}
	w.cmd.Stdout, w.cmd.Stderr = logf, logf
	setParentDeathSignal(w.cmd)
	require.NoError(t, w.cmd.Start())
	w.pid = w.cmd.Process.Pid
	go func() {
		_ = w.cmd.Wait() // the exit status is read from ProcessState
		w.state, w.exitedAt = w.cmd.ProcessState, time.Now()
		close(w.done)
	}()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			t.Logf("%s (pid %d) log:\n%s", w.name, w.pid, tail(w.log, 20))
		}
	})
	return w
}

// signal sends sig to the worker.
func (w *worker) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, w.cmd.Process.Signal(sig), "signal %s to %s", sig, w.name)
}

// wait waits up to d for the worker to exit and returns its exit code
// (-1 when a signal killed it).
func (w *worker) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-w.done:
		return w.state.ExitCode()
	case <-time.After(d):
		t.Fatalf("%s (pid %d) still running after %s; log:\n%s", w.name, w.pid, d, tail(w.log, 20))
		return 0
	}
}

// waitStarted waits until the worker logs that it started, after which
// it handles SIGTERM itself.
func (w *worker) waitStarted(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for len(w.logEntries(t, "worker started")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) did not start within %s; log:\n%s", w.name, w.pid, d, tail(w.log, 20))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logEntries returns the worker's JSON log entries whose message contains
// msg.
func (w *worker) logEntries(t *testing.T, msg string) []map[string]any {
	t.Helper()
	f, err := os.Open(w.log)
	require.NoError(t, err)
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e map[string]any
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue // a line the worker wrote before its logger, e.g. a flag error
		}
		if m, _ := e["msg"].(string); strings.Contains(m, msg) {
			out = append(out, e)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// run is one successful processor run as a worker's -record file has it.
type run struct {
	ID      string
	Attempt int
	PID     int
}

// readRuns reads the record files of workers (a missing file is a worker
// that never completed a run).
func readRuns(t *testing.T, workers []*worker) []run {
	t.Helper()
	var runs []run
	for _, w := range workers {
		b, err := os.ReadFile(w.record)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			f := strings.Fields(line)
			require.Len(t, f, 3, "record line %q in %s", line, w.record)
			att, err1 := strconv.Atoi(f[1])
			pid, err2 := strconv.Atoi(f[2])
			require.NoError(t, errors.Join(err1, err2), "record line %q", line)
			runs = append(runs, run{ID: f[0], Attempt: att, PID: pid})
		}
	}
	return runs
}

// output is what the worker's processors store as a request's result.
type output struct {
	PID     int `json:"pid"`
	Attempt int `json:"attempt"`
}

// newManager returns a manager on namespace ns.
func newManager(t *testing.T, rdb redis.UniversalClient, ns string) *llmqueue.QueueManager {
	t.Helper()
	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{Namespace: ns})
	require.NoError(t, err)
	return qm
}

// sleepRequest is a request for the worker's sleep processor.
func sleepRequest(id string, d time.Duration, opts ...llmqueue.RequestOption) *llmqueue.Request {
	opts = append([]llmqueue.RequestOption{llmqueue.WithID(id), llmqueue.WithEstimatedTokens(50)}, opts...)
	return llmqueue.NewRequest(map[string]any{"sleep_ms": d.Milliseconds()}, opts...)
}

// tail returns the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
