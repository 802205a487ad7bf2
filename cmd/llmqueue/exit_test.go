package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestExitCodes_UsageAndUnreachableRedis(t *testing.T) {
	t.Parallel()
	down := []string{"REDIS_URL=redis://" + closedPort(t)}
	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, nil, exitUsage, "Commands:"},
		{"unknown command", nil, []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"bad top-level flag", nil, []string{"--bogus", "stats"}, exitUsage, "flag provided but not defined: -bogus"},
		{"bad flag", nil, []string{"stats", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{"bad flag value", nil, []string{"ls", "dead", "--limit", "many"}, exitUsage, "invalid value"},
		{"stray argument", nil, []string{"stats", "extra"}, exitUsage, "takes no arguments"},
		{"bad environment", []string{"LLM_QUEUE_TOTAL_TPM=lots"}, []string{"stats"}, exitUsage, "LLM_QUEUE_TOTAL_TPM"},
		{"bad namespace", nil, []string{"--namespace", "bad ns!", "stats"}, exitUsage, "namespace"},
		{"bad interval", nil, []string{"top", "--interval", "1ms"}, exitUsage, "--interval"},
		{"stats, redis down", down, []string{"stats"}, exitError, "connection refused"},
		{"stats --json, redis down", down, []string{"stats", "--json"}, exitError, "connection refused"},
		{"ls, redis down", down, []string{"ls", "dead"}, exitError, "connection refused"},
		{"inspect, redis down", down, []string{"inspect", "x"}, exitError, "connection refused"},
		{"cancel, redis down", down, []string{"cancel", "x", "y"}, exitError, "connection refused"},
		{"workers, redis down", down, []string{"workers"}, exitError, "connection refused"},
		{"top --once, redis down", down, []string{"top", "--once"}, exitError, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := cli(t, tc.env, tc.args...)
			assert.Equal(t, tc.code, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, tc.stderr)
			assert.NotContains(t, r.stderr, "goroutine ")
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

func TestHelp_EveryCommandExplainsItselfWithAnExample(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := cli(t, nil, args...)
		require.Equal(t, 0, r.code, r.stderr)
		for _, c := range commands {
			assert.Contains(t, r.stdout, "  "+c.name+" ")
		}
		assert.Contains(t, r.stdout, "Exit codes:")
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {"help", c.name}} {
			r := cli(t, nil, args...)
			require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
			assert.Contains(t, r.stdout, "Usage: llmqueue "+c.name)
			assert.Contains(t, r.stdout, "Example:")
			assert.Contains(t, r.stdout, "-redis-url")
			assert.Contains(t, r.stdout, "3  not found")
		}
	}
}

func TestFlags_OverrideTheEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := append([]string{"REDIS_URL=redis://" + closedPort(t), "LLM_QUEUE_NAMESPACE=other"}, fixtureEnv...)
	var d statsDoc
	r := cli(t, env, "--redis-url", f.srv.URL(), "stats", "--namespace", f.ns, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, jsonUnmarshal(r.stdout, &d))
	assert.Equal(t, f.ns, d.Namespace)
	assert.Equal(t, int64(4), d.Queued)

	r = cli(t, env, "stats")
	assert.Equal(t, exitError, r.code, "the environment's Redis is down")
}

func TestRun_InProcess(t *testing.T) {
	t.Parallel()
	srv := redistest.StartReal(t)
	env := map[string]string{"REDIS_URL": srv.URL(), "LLM_QUEUE_NAMESPACE": "inproc"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"stats", "--json"}, &out, &errb, lookup)
	require.Equal(t, 0, code, errb.String())
	var d statsDoc
	require.NoError(t, jsonUnmarshal(out.String(), &d))
	assert.Equal(t, "inproc", d.Namespace)
	assert.Zero(t, d.Queued)

	out.Reset()
	code = run(context.Background(), []string{"top", "--once"}, &out, &errb, lookup)
	require.Equal(t, 0, code, errb.String())
	assert.True(t, strings.HasPrefix(out.String(), "llmqueue top  namespace inproc"), out.String())
	assert.Contains(t, out.String(), "no limits set")
	assert.Contains(t, out.String(), "WORKERS (0 live)")
	assert.NotContains(t, out.String(), "\x1b[", "--once draws no escape codes")
}

func TestWorst_PrefersOperationErrors(t *testing.T) {
	assert.Equal(t, exitOK, worst(exitOK, exitOK))
	assert.Equal(t, exitNotFound, worst(exitOK, exitNotFound))
	assert.Equal(t, exitConflict, worst(exitNotFound, exitConflict))
	assert.Equal(t, exitError, worst(exitConflict, exitError))
	assert.Equal(t, exitError, worst(exitError, exitNotFound))
}
