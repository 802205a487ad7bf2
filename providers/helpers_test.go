package providers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/llmqueue/llmqueue/llmqueuetest"
)

// startRedis starts a real redis-server when one is installed, else
// miniredis: the burst tests are about the providers, not the backend.
func startRedis(t *testing.T) *redistest.Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err == nil {
		return redistest.StartReal(t)
	}
	return redistest.StartMini(t)
}

// newProcess is one process of the namespace on s: a manager on a fresh
// client (a separate client stands for a separate process) and, when p is
// not nil, a BatchProcessor running p, shut down at cleanup.
func newProcess(t *testing.T, s *redistest.Server, p llmqueue.Processor, mc llmqueue.Config, wc llmqueue.WorkerConfig) *llmqueuetest.Kit {
	t.Helper()
	return llmqueuetest.New(t, p, llmqueuetest.WithClient(s.Client(t)),
		llmqueuetest.WithManagerConfig(mc), llmqueuetest.WithWorkerConfig(wc))
}

// waitAll waits for every request to finish and returns their statuses.
func waitAll(t *testing.T, qm *llmqueue.QueueManager, ids []string, timeout time.Duration) []*llmqueue.RequestStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := make([]*llmqueue.RequestStatus, len(ids))
	for i, id := range ids {
		st, err := qm.Wait(ctx, id)
		require.NoError(t, err, "request %d of %d", i, len(ids))
		out[i] = st
	}
	return out
}

// callLog is a Processor wrapper that records when each call started and
// when a call came back rate-limited.
type callLog struct {
	next llmqueue.Processor

	mu      sync.Mutex
	starts  []time.Time
	limited []time.Time
}

func (c *callLog) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	c.mu.Lock()
	c.starts = append(c.starts, time.Now())
	c.mu.Unlock()
	res, err := c.next.Process(ctx, job)
	var rl *llmqueue.RateLimitedError
	if err != nil && errorsAs(err, &rl) {
		c.mu.Lock()
		c.limited = append(c.limited, time.Now())
		c.mu.Unlock()
	}
	return res, err
}

func (c *callLog) snapshot() (starts, limited []time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.starts...), append([]time.Time(nil), c.limited...)
}

// openAIPayload is request i of a burst: a short prompt and maxTokens.
func openAIPayload(i, maxTokens int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Request %d: summarize the rate limit policy in one line."}],"max_tokens":%d}`,
		i, maxTokens))
}

// bedrockPayload is request i of a burst in the bedrock adapter's shape.
func bedrockPayload(i, maxTokens int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(
		`{"modelId":"anthropic.claude-3-haiku-20240307-v1:0","messages":[{"role":"user","content":"Request %d: summarize the rate limit policy in one line."}],"maxTokens":%d}`,
		i, maxTokens))
}
