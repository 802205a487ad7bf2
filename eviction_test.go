package llmqueue

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/lockedbuf"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStart_WarnsWhenRedisMayEvictKeys: with an allkeys-* policy Redis may
// evict the ledger or a queued request; a worker says so when it starts.
// miniredis does not know CONFIG GET, like a managed Redis that forbids
// it: the check then stays quiet and Start works.
func TestStart_WarnsWhenRedisMayEvictKeys(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		if s.Mini == nil {
			require.NoError(t, s.Client(t).ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())
		}
		logs := &lockedbuf.Buffer{}
		logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		qm := newManager(t, s, nil)
		startProcessor(t, qm, newRecorder(0), &WorkerConfig{Logger: logger, PollInterval: 20 * time.Millisecond})
		if s.Mini != nil {
			waitFor(t, 5*time.Second, func() bool {
				return strings.Contains(logs.String(), "maxmemory-policy could not be read")
			}, "the unreadable policy noted at debug level")
			assert.NotContains(t, logs.String(), "level=WARN msg=\"llmqueue: redis may evict")
			return
		}
		waitFor(t, 5*time.Second, func() bool {
			return strings.Contains(logs.String(), "allkeys-lru")
		}, "a warning naming the policy")
		line := lineWith(logs.String(), "allkeys-lru")
		assert.Contains(t, line, "level=WARN")
		assert.Contains(t, line, "noeviction")
	})
}

// TestStart_QuietWithNoEviction: the policy the README asks for gives no
// warning.
func TestStart_QuietWithNoEviction(t *testing.T) {
	s := redistest.StartReal(t)
	ctx := context.Background()
	require.NoError(t, s.Client(t).ConfigSet(ctx, "maxmemory-policy", "noeviction").Err())
	logs := &lockedbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	qm := newManager(t, s, nil)
	startProcessor(t, qm, newRecorder(0), &WorkerConfig{Logger: logger, PollInterval: 20 * time.Millisecond})
	waitFor(t, 5*time.Second, func() bool {
		return strings.Contains(logs.String(), "maxmemory-policy")
	}, "the policy checked")
	assert.NotContains(t, logs.String(), "level=WARN")
}

func lineWith(logs, s string) string {
	for line := range strings.Lines(logs) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
