package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/stretchr/testify/require"
)

// checkedProcessor is a Processor whose HealthCheck fails while broken is
// set.
type checkedProcessor struct {
	broken atomic.Bool
}

func (p *checkedProcessor) Process(context.Context, *llmqueue.Job) (*llmqueue.Result, error) {
	return &llmqueue.Result{}, nil
}

func (p *checkedProcessor) HealthCheck(context.Context) error {
	if p.broken.Load() {
		return errors.New("provider key rejected: sk-SECRET")
	}
	return nil
}

// healthOf fetches url's health check; it returns the body as read too.
func healthOf(t *testing.T, url string) (int, healthReply, string) {
	t.Helper()
	resp, err := http.Get(url + "/v1/queue/health")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var h healthReply
	require.NoError(t, json.Unmarshal(b, &h), "body: %s", b)
	return resp.StatusCode, h, string(b)
}

func TestHealth_ReportsEachCheckAnd503WhenOneFails(t *testing.T) {
	e := newEnv(t, config{})
	proc := &checkedProcessor{}
	bp, err := llmqueue.NewBatchProcessor(e.qm, proc, nil)
	require.NoError(t, err)
	hung := make(chan struct{})
	t.Cleanup(func() { close(hung) })
	logger := slog.New(slog.NewTextHandler(e.logs, nil))

	cases := []struct {
		name   string
		broken bool
		extra  []Option
		status int
		checks map[string]string
	}{
		{"every check passes", false, nil,
			http.StatusOK, map[string]string{"processor": "ok", "cache": "ok"}},
		{"the processor's check fails", true, nil,
			http.StatusServiceUnavailable, map[string]string{"processor": "failed", "cache": "ok"}},
		{"a later check of the same name replaces the earlier", false,
			[]Option{WithHealthCheck("cache", func(context.Context) error { return errors.New("cache down") })},
			http.StatusServiceUnavailable, map[string]string{"processor": "ok", "cache": "failed"}},
		{"a panicking check fails, the server stays up", false,
			[]Option{WithHealthCheck("fragile", func(context.Context) error { panic("boom") })},
			http.StatusServiceUnavailable, map[string]string{"processor": "ok", "cache": "ok", "fragile": "failed"}},
		{"a check that ignores its deadline is a timeout", false,
			[]Option{WithHealthCheck("slow", func(context.Context) error { <-hung; return nil })},
			http.StatusServiceUnavailable, map[string]string{"processor": "ok", "cache": "ok", "slow": "timeout"}},
		{"a nil check is ignored", false, []Option{WithHealthCheck("none", nil)},
			http.StatusOK, map[string]string{"processor": "ok", "cache": "ok"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proc.broken.Store(tc.broken)
			opts := append([]Option{
				WithLogger(logger), WithMinWorkers(0),
				WithHealthCheck("processor", bp.HealthCheck),
				WithHealthCheck("cache", func(context.Context) error { return nil }),
			}, tc.extra...)
			url := newHandlerServer(t, New(e.qm, opts...))
			start := time.Now()
			status, h, body := healthOf(t, url)
			require.NotContains(t, body, "SECRET", "a check's error is logged, never sent")
			require.Less(t, time.Since(start), healthTimeout+time.Second)
			require.Equal(t, tc.status, status)
			want := healthReply{Status: "ok", Redis: "ok", Workers: 0, MinWorkers: 0, Checks: tc.checks}
			if tc.status != http.StatusOK {
				want.Status = "unavailable"
			}
			require.Equal(t, want, h)
		})
	}
	require.Contains(t, e.logs.String(), "provider key rejected", "a failing check is logged")

	status, _, b := e.do(http.MethodGet, "/v1/queue/health", "")
	require.NotContains(t, string(b), "checks", "no checks, no checks key")
	require.Equal(t, http.StatusServiceUnavailable, status, "no workers")
}

func TestHealth_ChecksAreReportedWhileRedisIsDown(t *testing.T) {
	e := newEnv(t, config{manager: llmqueue.Config{OpTimeout: 300 * time.Millisecond}})
	url := newHandlerServer(t, New(e.qm, WithMinWorkers(0),
		WithHealthCheck("processor", func(context.Context) error { return nil })))
	e.stopRedis()
	status, h, _ := healthOf(t, url)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, healthReply{Status: "unavailable", Redis: "unreachable", Checks: map[string]string{"processor": "ok"}}, h)
}
