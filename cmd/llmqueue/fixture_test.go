package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

// binary is the llmqueue command built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "llmqueue-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "llmqueue")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// The fixture's budget, as the library and the command's environment set it.
var (
	fixtureBudget = llmqueue.Budget{TPM: 100_000, RPM: 1000, Window: time.Hour}
	fixtureEnv    = []string{"LLM_QUEUE_TOTAL_TPM=100000", "LLM_QUEUE_TOTAL_RPM=1000", "LLM_QUEUE_WINDOW=1h"}
)

// Request IDs of the fixture, by the state they are left in.
const (
	idCompleted = "req-completed"
	idDead      = "req-dead"
	idRetrying  = "req-retrying"
	idSuspended = "req-suspended"
	idActive    = "req-active"
	idCanceled  = "req-canceled"
	idLow1      = "q-low-1"
	idLow2      = "q-low-2"
	idMedium    = "q-medium-1"
	idLong      = "q-long-1"
	workerID    = "cli-test-worker"
)

// fixture is a namespace on a real redis-server with a request in every
// state: completed, dead, retrying, suspended, active (its processor blocks
// until cleanup), canceled, and four queued (two low, one medium, one long)
// that stay queued because processing is paused.
type fixture struct {
	srv *redistest.Server
	qm  *llmqueue.QueueManager
	ns  string
	env []string // what the command needs to see the namespace
}

// newFixture starts a redis-server and fills a namespace.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := redistest.StartReal(t)
	f := &fixture{srv: srv, ns: "clitest"}
	f.env = append([]string{"REDIS_URL=" + srv.URL(), "LLM_QUEUE_NAMESPACE=" + f.ns}, fixtureEnv...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, populate(ctx, t, srv, f))
	return f
}

// populate adds the fixture's requests and runs a BatchProcessor until each
// is where it should be.
func populate(ctx context.Context, t *testing.T, srv *redistest.Server, f *fixture) error {
	qm, err := llmqueue.NewQueueManager(srv.Client(t), &llmqueue.Config{Namespace: f.ns, Budget: fixtureBudget})
	if err != nil {
		return err
	}
	f.qm = qm
	t.Cleanup(func() { _ = qm.Close() })

	release := make(chan struct{})
	proc := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		var p struct{ Kind string }
		_ = json.Unmarshal(job.Payload, &p)
		switch p.Kind {
		case "fail":
			return nil, llmqueue.Permanent(errors.New("bad request: model \"gpt-x\" does not exist"))
		case "retry":
			return nil, llmqueue.Retryable(time.Hour, errors.New("upstream 503: overloaded"))
		case "suspend":
			return nil, llmqueue.Suspend("needs approval", []byte(`{"step":2}`))
		case "block":
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err := job.SetMeta(ctx, "progress", 100); err != nil {
			return nil, err
		}
		return &llmqueue.Result{Output: json.RawMessage(`{"answer":"42","model":"test"}`),
			Usage: llmqueue.Usage{InputTokens: 120, OutputTokens: 30}}, nil
	})

	add := func(id, kind string, est int64, opts ...llmqueue.RequestOption) error {
		opts = append(opts, llmqueue.WithID(id), llmqueue.WithEstimatedTokens(est), llmqueue.WithMaxRetries(2),
			llmqueue.WithMeta(map[string]any{"kind": kind}))
		_, err := qm.Add(ctx, llmqueue.NewRequest(map[string]any{"kind": kind, "prompt": "say " + kind}, opts...))
		return err
	}
	if err := add(idCanceled, "ok", 1000); err != nil {
		return err
	}
	if _, err := qm.Cancel(ctx, idCanceled); err != nil {
		return err
	}
	for _, r := range []struct{ id, kind string }{{idCompleted, "ok"}, {idDead, "fail"}, {idRetrying, "retry"},
		{idSuspended, "suspend"}, {idActive, "block"}} {
		if err := add(r.id, r.kind, 1000); err != nil {
			return err
		}
	}
	bp, err := llmqueue.NewBatchProcessor(qm, proc, &llmqueue.WorkerConfig{Concurrency: 4, WorkerID: workerID,
		PollInterval: 50 * time.Millisecond, Backoff: func(int) time.Duration { return time.Hour }})
	if err != nil {
		return err
	}
	if err := bp.Start(ctx); err != nil {
		return err
	}
	t.Cleanup(func() {
		close(release)
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bp.Shutdown(sctx)
	})
	want := map[string]llmqueue.Status{idCompleted: llmqueue.StatusCompleted, idDead: llmqueue.StatusDead,
		idRetrying: llmqueue.StatusRetrying, idSuspended: llmqueue.StatusSuspended, idActive: llmqueue.StatusActive}
	for id, st := range want {
		if err := waitStatus(ctx, qm, id, st); err != nil {
			return err
		}
	}
	if err := qm.PauseProcessing(ctx); err != nil {
		return err
	}
	for _, r := range []struct {
		id  string
		est int64
	}{{idLow1, 500}, {idLow2, 700}, {idMedium, 20_000}, {idLong, 80_000}} {
		if err := add(r.id, "ok", r.est); err != nil {
			return err
		}
	}
	return nil
}

// waitStatus polls until request id has status want.
func waitStatus(ctx context.Context, qm *llmqueue.QueueManager, id string, want llmqueue.Status) error {
	for {
		st, err := qm.Status(ctx, id)
		if err == nil && st.Status == want {
			return nil
		}
		select {
		case <-ctx.Done():
			got := "?"
			if st != nil {
				got = string(st.Status)
			}
			return fmt.Errorf("%s: want %s, still %s (%v): %w", id, want, got, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// result is one run of the command.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the built command with env (and nothing else from the test's
// environment) and args.
func cli(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// run runs the command against the fixture.
func (f *fixture) run(t *testing.T, args ...string) result {
	t.Helper()
	return cli(t, f.env, args...)
}

// runJSON runs the command, wants exit 0 and decodes its stdout into v.
func (f *fixture) runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	r := f.run(t, args...)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), v), "stdout: %s", r.stdout)
}
