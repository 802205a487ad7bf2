package llmqueue

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// newManager returns a manager on a fresh client of s (a separate client
// stands for a separate process).
func newManager(t *testing.T, s *redistest.Server, cfg *Config) *QueueManager {
	t.Helper()
	rdb := s.Client(t)
	qm, err := NewQueueManager(rdb, cfg)
	require.NoError(t, err)
	clients.Store(qm, rdb)
	t.Cleanup(func() { clients.Delete(qm) })
	return qm
}

// clients holds the client of each manager newManager made, for rawClient.
var clients sync.Map // *QueueManager -> redis.UniversalClient

// startProcessor starts a BatchProcessor and shuts it down at cleanup.
func startProcessor(t *testing.T, qm *QueueManager, p Processor, cfg *WorkerConfig) *BatchProcessor {
	t.Helper()
	bp, err := NewBatchProcessor(qm, p, cfg)
	require.NoError(t, err)
	require.NoError(t, bp.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bp.Shutdown(ctx)
	})
	return bp
}

// startRecord is one processor start as the processor itself saw it.
type startRecord struct {
	ID       string
	At       time.Time
	Tokens   int64
	Priority Priority
}

// recorder is a Processor that logs every start and completes after delay,
// reporting usage = its reservation x usageFactor.
type recorder struct {
	mu          sync.Mutex
	starts      []startRecord
	done        map[string]int
	delay       time.Duration
	usageFactor float64
	maxDelay    time.Duration // longest lease-to-start delay seen
}

func newRecorder(delay time.Duration) *recorder {
	return &recorder{done: map[string]int{}, delay: delay, usageFactor: 1}
}

func (r *recorder) Process(ctx context.Context, job *Job) (*Result, error) {
	r.mu.Lock()
	now := time.Now()
	r.starts = append(r.starts, startRecord{ID: job.ID, At: now, Tokens: job.EstimatedTokens, Priority: job.Priority})
	if d := now.Sub(job.LeasedAt); d > r.maxDelay {
		r.maxDelay = d
	}
	r.mu.Unlock()
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.mu.Lock()
	r.done[job.ID]++
	r.mu.Unlock()
	scale := func(n int64) int64 { return int64(float64(n) * r.usageFactor) }
	return &Result{Output: json.RawMessage(`{"ok":true}`),
		Usage: Usage{InputTokens: scale(job.Reserved.InputTokens), OutputTokens: scale(job.Reserved.OutputTokens)}}, nil
}

func (r *recorder) snapshot() []startRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]startRecord(nil), r.starts...)
}

// longestDelay returns the longest lease-to-start delay so far; the
// processors may still be running, so it takes the lock like snapshot.
func (r *recorder) longestDelay() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxDelay
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.starts)
}

// waitFor polls cond until it holds or the timeout passes.
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

func payload(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// rawClient and rawKeys reach Redis beside the store, for tests that write
// what no script would (corrupt fields, lost keys) or read what no API
// shows. The store hands out neither: rawClient takes the client newManager
// gave the manager.
func rawClient(qm *QueueManager) redis.UniversalClient {
	rdb, ok := clients.Load(qm)
	if !ok {
		panic("rawClient: the manager was not made by newManager")
	}
	return rdb.(redis.UniversalClient)
}

func rawKeys(qm *QueueManager) redisstore.Keys { return redisstore.NewKeys(qm.Namespace()) }

// decodeStatus decodes a request hash as Status would.
func decodeStatus(id string, h map[string]string) (*RequestStatus, error) {
	rec, err := redisstore.DecodeRecord(id, h)
	return statusFromRecord(id, rec, err)
}

// listIDs reads one page of state's IDs from offset through the Inspector.
func listIDs(ctx context.Context, qm *QueueManager, state Status, offset, limit int) ([]string, error) {
	cursor := ""
	if offset > 0 {
		cursor = strconv.Itoa(offset)
	}
	p, err := qm.Inspector().List(ctx, state, cursor, limit)
	return p.IDs, err
}
