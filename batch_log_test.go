package llmqueue

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/lockedbuf"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

// logLines decodes a JSON handler's output, one map per line.
func logLines(t *testing.T, buf *lockedbuf.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		lines = append(lines, m)
	}
	return lines
}

// linesFor returns the lines about request id.
func linesFor(lines []map[string]any, id string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["id"] == id {
			out = append(out, l)
		}
	}
	return out
}

// TestJobLog_OneLinePerEvent checks the per-job log: started and completed
// at Debug with durations as text and tokens, a retry and a 429 at Warn,
// and a death as exactly one Error line naming the request and why, both
// when the processor's error kills it and when a lease call does.
func TestJobLog_OneLinePerEvent(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		buf := &lockedbuf.Buffer{}
		logger := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg := &Config{Namespace: "joblog", Budget: Budget{TPM: 100_000, SafetyBufferPercent: -1}, Logger: logger}
		qm := newManager(t, s, cfg)
		var flaky, limited atomic.Int32
		proc := ProcessorFunc(func(ctx context.Context, job *Job) (*Result, error) {
			switch string(job.Payload) {
			case `{"do":"die"}`:
				return nil, Permanent(errors.New("prompt too long for the model"))
			case `{"do":"flaky"}`:
				if flaky.Add(1) == 1 {
					return nil, Retryable(time.Millisecond, errors.New("upstream 503"))
				}
			case `{"do":"429"}`:
				if limited.Add(1) == 1 {
					return nil, RateLimited(20*time.Millisecond, errors.New("429 too many requests"))
				}
			}
			return &Result{Output: []byte(`"ok"`), Usage: Usage{InputTokens: 70, OutputTokens: 30}}, nil
		})
		ids := map[string]string{}
		for _, do := range []string{"ok", "die", "flaky", "429"} {
			id, err := qm.Add(ctx, NewRequest(map[string]string{"do": do}, WithEstimatedTokens(100), WithMaxRetries(3)))
			require.NoError(t, err)
			ids[do] = id
		}
		// A manager with a larger budget queues what this worker's budget
		// can never afford: its lease call puts it to death.
		big := newManager(t, s, &Config{Namespace: "joblog", Budget: Budget{TPM: 10_000_000}})
		huge, err := big.Add(ctx, NewRequest(map[string]string{"do": "huge"}, WithEstimatedTokens(500_000)))
		require.NoError(t, err)
		startProcessor(t, qm, proc, &WorkerConfig{Concurrency: 1, PollInterval: 5 * time.Millisecond, Backoff: func(int) time.Duration { return time.Millisecond }})
		_, err = qm.WaitAll(ctx, []string{ids["ok"], ids["die"], ids["flaky"], ids["429"], huge})
		require.NoError(t, err)

		// Wait returns when Redis records the outcome; the worker logs it
		// just after. Wait for the last line expected: the lease-killed
		// request's, and the 429'd request's completion.
		var lines []map[string]any
		waitFor(t, 5*time.Second, func() bool {
			lines = logLines(t, buf)
			return len(linesFor(lines, huge)) == 1 && len(linesFor(lines, ids["429"])) == 4 &&
				len(linesFor(lines, ids["flaky"])) == 4 && len(linesFor(lines, ids["ok"])) == 2 && len(linesFor(lines, ids["die"])) == 2
		}, "every event logged")
		levels := func(id string) (got []string) {
			for _, l := range linesFor(lines, id) {
				got = append(got, l["level"].(string)+" "+l["msg"].(string))
			}
			return got
		}
		tests := []struct {
			name, id string
			want     []string
		}{
			{"completed", ids["ok"], []string{"DEBUG llmqueue: job started", "DEBUG llmqueue: job completed"}},
			{"dead", ids["die"], []string{"DEBUG llmqueue: job started", "ERROR llmqueue: request died"}},
			{"retried", ids["flaky"], []string{"DEBUG llmqueue: job started", "WARN llmqueue: attempt failed; retry scheduled",
				"DEBUG llmqueue: job started", "DEBUG llmqueue: job completed"}},
			{"rate limited", ids["429"], []string{"DEBUG llmqueue: job started",
				"WARN llmqueue: provider rate limit (429): requeued, and every worker of the namespace cools down",
				"DEBUG llmqueue: job started", "DEBUG llmqueue: job completed"}},
			{"killed by lease", huge, []string{"ERROR llmqueue: request died"}},
		}
		for _, tc := range tests {
			require.Equal(t, tc.want, levels(tc.id), tc.name)
		}

		for _, l := range linesFor(lines, ids["ok"]) {
			if l["msg"] == "llmqueue: job completed" {
				require.Equal(t, float64(70), l["input_tokens"])
				require.Equal(t, float64(30), l["output_tokens"])
				require.Equal(t, float64(1), l["attempt"])
				require.NotEmpty(t, l["worker"])
				d, err := time.ParseDuration(l["duration"].(string))
				require.NoError(t, err, "duration is text")
				require.GreaterOrEqual(t, d, time.Duration(0))
			}
		}
		dead := linesFor(lines, ids["die"])[1]
		require.Contains(t, dead["cause"], "prompt too long for the model")
		require.Contains(t, linesFor(lines, huge)[0]["cause"], "estimate exceeds the usable")
		rl := linesFor(lines, ids["429"])[1]
		require.Equal(t, "20ms", rl["cooldown"])
	})
}
