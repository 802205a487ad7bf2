package envconfig_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/llmqueue/llmqueue/internal/lockedbuf"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	secPassword = "s3cret-Pa55"          // the server's requirepass
	secWrong    = "wr0ng-Pa55"           // a password the server refuses
	secAPIKey   = "sk-SECRET-123"        // a provider key carried in a payload
	secACLPass  = "llm-user-Pa55w0rd"    // the ACL user's password
	secNarrow   = "narrow-user-Pa55w0rd" // a user kept off llmqueue's keys
)

// secConfig reads a Config from env the way Load would.
func secConfig(t *testing.T, env map[string]string) envconfig.Config {
	t.Helper()
	cfg, err := envconfig.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err)
	return cfg
}

// secManager builds the client and manager from cfg as a deployment does.
func secManager(t *testing.T, cfg envconfig.Config) *llmqueue.QueueManager {
	t.Helper()
	rdb, err := cfg.NewRedisClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	qm, err := llmqueue.NewQueueManager(rdb, &cfg.Manager)
	require.NoError(t, err)
	return qm
}

// secRoundTrip adds one request, processes it and waits until it completes.
func secRoundTrip(t *testing.T, qm *llmqueue.QueueManager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok := llmqueue.ProcessorFunc(func(context.Context, *llmqueue.Job) (*llmqueue.Result, error) {
		return &llmqueue.Result{Output: []byte(`{"ok":true}`)}, nil
	})
	startProcessor(t, qm, ok, llmqueue.WorkerConfig{PollInterval: 20 * time.Millisecond})
	id, err := qm.Add(ctx, llmqueue.NewRequest(`{"q":"hello"}`, llmqueue.WithEstimatedTokens(5)))
	require.NoError(t, err)
	st, err := qm.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, llmqueue.StatusCompleted, st.Status)
	assert.JSONEq(t, `{"ok":true}`, string(st.Result))
}

// assertNoSecrets fails if any secret appears in text.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		assert.NotContains(t, text, s, "%s leaks a secret", what)
	}
}

func assertContainsAny(t *testing.T, s string, subs []string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return
		}
	}
	t.Errorf("%q contains none of %q", s, subs)
}

func TestSecurity_PasswordInRedisURL(t *testing.T) {
	s := redistest.StartReal(t, "--requirepass", secPassword)
	qm := secManager(t, secConfig(t, map[string]string{"REDIS_URL": "redis://:" + secPassword + "@" + s.Addr}))
	secRoundTrip(t, qm)
}

func TestSecurity_WrongOrMissingPasswordIsAClearErrorWithoutThePassword(t *testing.T) {
	ctx := context.Background()
	s := redistest.StartReal(t, "--requirepass", secPassword)
	for _, tc := range []struct {
		name, url string
		want      []string // any of
	}{
		{"wrong password", "redis://:" + secWrong + "@" + s.Addr, []string{"WRONGPASS"}},
		// Redis answers NOAUTH, or a protocol error to an unauthenticated
		// command with many arguments (Add's script call has more than 10).
		{"no password", "redis://" + s.Addr, []string{"NOAUTH", "unauthenticated"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qm := secManager(t, secConfig(t, map[string]string{"REDIS_URL": tc.url, "LLM_QUEUE_OP_TIMEOUT": "2s"}))
			start := time.Now()
			_, err := qm.Add(ctx, llmqueue.NewRequest(`{"q":1}`, llmqueue.WithEstimatedTokens(1)))
			require.Error(t, err)
			t.Logf("Add: %v (after %s)", err, time.Since(start))
			assertContainsAny(t, err.Error(), tc.want)
			assert.Less(t, time.Since(start), 2*time.Second, "an auth error is not retried until the timeout")
			assertNoSecrets(t, "Add error", err.Error(), secWrong, secPassword)

			_, err = qm.Status(ctx, "some-id")
			require.Error(t, err)
			t.Logf("Status: %v", err)
			assert.NotErrorIs(t, err, llmqueue.ErrNotFound)
			assertContainsAny(t, err.Error(), tc.want)
			assertNoSecrets(t, "Status error", err.Error(), secWrong, secPassword)
		})
	}
}

func TestSecurity_ACLUserInRedisURL(t *testing.T) {
	ctx := context.Background()
	s := redistest.StartReal(t, "--requirepass", secPassword)
	admin := s.Client(t)
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "llm", "reset", "on", ">"+secACLPass,
		"~llmq:*", "&*", "+@all").Err())
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "narrow", "reset", "on", ">"+secNarrow,
		"~other:*", "&*", "+@all").Err())

	t.Run("user with the namespace's keys", func(t *testing.T) {
		cfg := secConfig(t, map[string]string{"REDIS_URL": "redis://llm:" + secACLPass + "@" + s.Addr})
		secRoundTrip(t, secManager(t, cfg))
		rdb, err := cfg.NewRedisClient()
		require.NoError(t, err)
		defer rdb.Close()
		who, err := rdb.Do(ctx, "ACL", "WHOAMI").Text()
		require.NoError(t, err)
		assert.Equal(t, "llm", who, "the URL's user is the one connected")
	})
	t.Run("user without the namespace's keys", func(t *testing.T) {
		qm := secManager(t, secConfig(t, map[string]string{"REDIS_URL": "redis://narrow:" + secNarrow + "@" + s.Addr}))
		_, err := qm.Add(ctx, llmqueue.NewRequest(`{"q":1}`, llmqueue.WithEstimatedTokens(1)))
		require.Error(t, err)
		t.Logf("Add: %v", err)
		assert.Contains(t, err.Error(), "NOPERM")
		assertNoSecrets(t, "Add error", err.Error(), secNarrow, secPassword)
	})
	t.Run("wrong password for the user", func(t *testing.T) {
		qm := secManager(t, secConfig(t, map[string]string{
			"REDIS_URL": "redis://llm:" + secWrong + "@" + s.Addr, "LLM_QUEUE_OP_TIMEOUT": "2s"}))
		_, err := qm.Add(ctx, llmqueue.NewRequest(`{"q":1}`, llmqueue.WithEstimatedTokens(1)))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "WRONGPASS")
		assertNoSecrets(t, "Add error", err.Error(), secWrong, secACLPass)
	})
}

// TestSecurity_TLSRedisURL connects through rediss:// to a server whose
// certificate a private CA signed: refused without REDIS_TLS_CA_FILE,
// accepted with it.
func TestSecurity_TLSRedisURL(t *testing.T) {
	ctx := context.Background()
	_, tl := redistest.StartTLS(t, "--requirepass", secPassword)
	cfg := secConfig(t, map[string]string{"REDIS_URL": tl.URL(secPassword), "LLM_QUEUE_OP_TIMEOUT": "2s"})

	o, err := cfg.RedisOptions()
	require.NoError(t, err)
	require.NotNil(t, o.TLSConfig, "rediss:// must turn TLS on")

	t.Run("server certificate from an unknown CA is refused", func(t *testing.T) {
		qm := secManager(t, cfg)
		_, err := qm.Add(ctx, llmqueue.NewRequest(`{"q":1}`, llmqueue.WithEstimatedTokens(1)))
		require.Error(t, err)
		t.Logf("Add: %v", err)
		var unknown x509.UnknownAuthorityError
		assert.True(t, errors.As(err, &unknown) || strings.Contains(err.Error(), "unknown authority"),
			"want an unknown-authority error, got %v", err)
		assertNoSecrets(t, "Add error", err.Error(), secPassword)
	})
	t.Run("REDIS_TLS_CA_FILE trusts the CA", func(t *testing.T) {
		cfg := secConfig(t, map[string]string{"REDIS_URL": tl.URL(secPassword), "LLM_QUEUE_OP_TIMEOUT": "2s",
			"REDIS_TLS_CA_FILE": tl.CAFile})
		secRoundTrip(t, secManager(t, cfg))
	})
	t.Run("a CA file that is not PEM names the variable", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "ca.pem")
		require.NoError(t, os.WriteFile(bad, []byte("not a certificate"), 0o600))
		env := map[string]string{"REDIS_URL": tl.URL(secPassword), "REDIS_TLS_CA_FILE": bad}
		_, err := envconfig.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		require.Error(t, err, "Load reads the file at once")
		assert.Contains(t, err.Error(), "REDIS_TLS_CA_FILE")
		assertNoSecrets(t, "CA error", err.Error(), secPassword)
	})
}

// TestSecurity_NoSecretInLogsErrorsOrMetrics runs a request that carries
// an API key through a failing processor, a Redis outage and bad input,
// and checks every log line, error and metric the library produced. The
// payload is only allowed where it is the data itself (Status().Payload,
// Meta and the llmqueue.Job the processor gets).
func TestSecurity_NoSecretInLogsErrorsOrMetrics(t *testing.T) {
	ctx := context.Background()
	secrets := []string{secAPIKey, secPassword, secWrong}
	logs := &lockedbuf.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []error
	collect := func(err error) {
		t.Helper()
		require.Error(t, err)
		errs = append(errs, err)
	}

	s := redistest.StartReal(t, "--requirepass", secPassword, "--appendonly", "yes")
	cfg := secConfig(t, map[string]string{
		"REDIS_URL": "redis://:" + secPassword + "@" + s.Addr, "LLM_QUEUE_OP_TIMEOUT": "2s"})
	logger.Info("starting", "config", cfg)
	cfg.Manager.Logger = logger
	qm := secManager(t, cfg)

	var seen sync.Map
	proc := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		seen.Store(job.ID, strings.Contains(string(job.Payload), secAPIKey))
		return nil, errors.New("upstream said 500")
	})
	wc := cfg.Worker
	wc.Logger, wc.PollInterval = logger, 20*time.Millisecond
	wc.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	bp := startProcessor(t, qm, proc, wc)

	// An outage, so the outage log lines are in the capture too.
	s.Stop(t)
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "redis unavailable") },
		"the outage was logged")
	s.Start(t)

	secret := map[string]any{
		"api_key":  secAPIKey,
		"messages": []map[string]string{{"role": "user", "content": "my key is " + secAPIKey}},
	}
	id, err := qm.Add(ctx, llmqueue.NewRequest(secret, llmqueue.WithEstimatedTokens(7), llmqueue.WithMaxRetries(1),
		llmqueue.WithMeta(map[string]any{"authorization": "Bearer " + secAPIKey})))
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := qm.Wait(wctx, id)
	require.NoError(t, err)
	require.Equal(t, llmqueue.StatusDead, st.Status)
	assert.Equal(t, 2, st.Attempts)
	ok, _ := seen.Load(id)
	assert.Equal(t, true, ok, "the processor got the payload")
	assert.Contains(t, string(st.Payload), secAPIKey, "the payload is the request's data")
	assertNoSecrets(t, "Status().Error", st.Error, secrets...)

	// Bad input that contains the key must not be echoed back.
	_, err = qm.Add(ctx, llmqueue.NewRequest(`{"api_key":"`+secAPIKey+`"`, llmqueue.WithEstimatedTokens(1)))
	collect(err)
	assert.ErrorIs(t, err, llmqueue.ErrInvalidPayload)
	_, err = qm.Add(ctx, llmqueue.NewRequest(`{"api_key":"`+secAPIKey+`"}`, llmqueue.WithEstimatedTokens(-1)))
	collect(err)
	_, err = qm.Add(ctx, llmqueue.NewRequest(`{"q":1}`, llmqueue.WithID(id), llmqueue.WithEstimatedTokens(1)))
	collect(err)
	assert.ErrorIs(t, err, llmqueue.ErrDuplicateID)
	collect(qm.Resume(ctx, id, map[string]string{"api_key": secAPIKey}))

	// A client with the wrong password.
	badCfg := secConfig(t, map[string]string{"REDIS_URL": "redis://:" + secWrong + "@" + s.Addr, "LLM_QUEUE_OP_TIMEOUT": "2s"})
	badCfg.Manager.Logger = logger
	bad := secManager(t, badCfg)
	_, err = bad.Add(ctx, llmqueue.NewRequest(secret, llmqueue.WithEstimatedTokens(1)))
	collect(err)
	_, err = bad.Status(ctx, id)
	collect(err)
	_, err = bad.Metrics(ctx)
	collect(err)
	_, err = envconfig.FromLookup(func(k string) (string, bool) {
		if k == "REDIS_URL" {
			return "redis://:" + secPassword + "@" + s.Addr + "/notadb", true
		}
		return "", false
	})
	collect(err)

	m, err := qm.Metrics(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, m.Dead)
	metricsJSON, err := json.Marshal(m)
	require.NoError(t, err)
	statusJSON, err := json.Marshal(bp.Status())
	require.NoError(t, err)

	for _, err := range errs {
		t.Logf("error: %v", err)
		assertNoSecrets(t, "error", err.Error(), secrets...)
	}
	assertNoSecrets(t, "Metrics", string(metricsJSON), secrets...)
	assertNoSecrets(t, "processor Status", string(statusJSON), secrets...)
	out := logs.String()
	require.Contains(t, out, "redis unavailable", "the capture holds the outage lines too")
	assertNoSecrets(t, "logs", out, secrets...)
	t.Logf("captured logs:\n%s", out)
}

// startProcessor starts a BatchProcessor running p and shuts it down at
// cleanup.
func startProcessor(t *testing.T, qm *llmqueue.QueueManager, p llmqueue.Processor, wc llmqueue.WorkerConfig) *llmqueue.BatchProcessor {
	t.Helper()
	bp, err := llmqueue.NewBatchProcessor(qm, p, &wc)
	require.NoError(t, err)
	require.NoError(t, bp.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bp.Shutdown(ctx)
	})
	return bp
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFault_AddFailsWithinOpTimeoutWhenRedisHangs builds the client the
// way a deployment does (FromLookup, NewRedisClient), so
// LLM_QUEUE_OP_TIMEOUT must bound Add even when Redis accepts the command
// and never answers.
func TestFault_AddFailsWithinOpTimeoutWhenRedisHangs(t *testing.T) {
	ctx := context.Background()
	s := redistest.StartReal(t)
	cfg, err := envconfig.FromLookup(func(k string) (string, bool) {
		v, ok := map[string]string{"REDIS_URL": s.URL(), "LLM_QUEUE_OP_TIMEOUT": "300ms"}[k]
		return v, ok
	})
	require.NoError(t, err)
	rdb, err := cfg.NewRedisClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	qm, err := llmqueue.NewQueueManager(rdb, &cfg.Manager)
	require.NoError(t, err)
	_, err = qm.Add(ctx, llmqueue.NewRequest(`{}`, llmqueue.WithEstimatedTokens(1)))
	require.NoError(t, err)

	// A Redis that takes the command but does not answer, like one stuck
	// in a long script, or a network that drops packets.
	require.NoError(t, s.Client(t).Do(ctx, "CLIENT", "PAUSE", "2000", "ALL").Err())
	start := time.Now()
	_, err = qm.Add(ctx, llmqueue.NewRequest(`{"q":1}`, llmqueue.WithEstimatedTokens(1)))
	took := time.Since(start)
	t.Logf("Add while Redis hangs: %v after %s", err, took)
	require.Error(t, err, "Add waited out the pause instead of failing at the op timeout")
	assert.Less(t, took, time.Second, "LLM_QUEUE_OP_TIMEOUT=300ms must bound Add")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, llmqueue.ErrUnavailable)
}
