package llmqueue

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCluster_NamespacesOnDifferentNodesRunSideBySide runs two namespaces
// with different budgets on two masters of a 3-master cluster.
func TestCluster_NamespacesOnDifferentNodesRunSideBySide(t *testing.T) {
	t.Parallel()
	if os.Getenv(redistest.EnvTestCluster) != "1" {
		t.Skip("set " + redistest.EnvTestCluster + "=1 to run cluster tests")
	}
	s := redistest.StartCluster(t)
	cc, ok := s.Client(t).(*redis.ClusterClient)
	require.True(t, ok)
	ctx := context.Background()

	// Find two namespaces whose slots live on different masters.
	nodeOf := func(ns string) string {
		c, err := cc.MasterForKey(ctx, redisstore.NewKeys(ns).Stats)
		require.NoError(t, err)
		return c.Options().Addr
	}
	nsA := "tenant-a"
	nsB := ""
	for i := range 100 {
		if cand := fmt.Sprintf("tenant-b%d", i); nodeOf(cand) != nodeOf(nsA) {
			nsB = cand
			break
		}
	}
	require.NotEmpty(t, nsB)
	t.Logf("%s on %s, %s on %s", nsA, nodeOf(nsA), nsB, nodeOf(nsB))

	const window = time.Second
	budgets := map[string]Budget{
		nsA: {TPM: 10_000, SafetyBufferPercent: -1, Window: window},
		nsB: {TPM: 30_000, SafetyBufferPercent: -1, Window: window},
	}
	recs := map[string]*recorder{}
	for ns, b := range budgets {
		qm := newManager(t, s, &Config{Namespace: ns, Budget: b})
		addClass(t, qm, 100, 1_000)
		recs[ns] = newRecorder(5 * time.Millisecond)
		for range 2 {
			startProcessor(t, newManager(t, s, &Config{Namespace: ns, Budget: b}), recs[ns], &WorkerConfig{Concurrency: 8})
		}
	}
	time.Sleep(3*window + window/2)
	for ns, b := range budgets {
		starts := recs[ns].snapshot()
		maxTok, _ := maxInWindow(starts, window)
		t.Logf("%s: %d starts, max %d tokens in a window (usable %d)", ns, len(starts), maxTok, b.UsableTokens())
		assert.LessOrEqual(t, maxTok, b.UsableTokens(), ns)
		assert.GreaterOrEqual(t, int64(len(starts))*1_000, 3*b.UsableTokens(), ns+" ran at its own budget")
	}
}
