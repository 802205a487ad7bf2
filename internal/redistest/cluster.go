package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	clusterMasters      = 3
	clusterReadyTimeout = 20 * time.Second
)

// StartCluster starts a Redis Cluster of three masters and no replicas,
// each a redis-server (see StartReal) with --cluster-enabled yes on a free
// loopback port whose cluster-bus port (+10000) is free too, each in its
// own temp dir. The nodes are joined with `redis-cli --cluster create` and
// StartCluster returns once every node reports cluster_state:ok (20s at
// most). Client returns a *redis.ClusterClient over all nodes.
//
// If redis-server or redis-cli is not on PATH the test is skipped, or fails
// when LLMQUEUE_REQUIRE_REDIS=1.
func StartCluster(tb testing.TB) *Server {
	tb.Helper()
	bin := requireBinary(tb, "redis-server")
	cli := requireBinary(tb, "redis-cli")
	ports, err := freePorts(clusterMasters, true)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Backend: Cluster}
	for _, p := range ports {
		s.nodes = append(s.nodes, &node{bin: bin, dir: tb.TempDir(), port: p, cluster: true})
	}
	s.stopAllOnCleanup(tb)
	// Nodes start concurrently because each takes ~100ms to answer PING.
	errs := make([]error, len(s.nodes))
	var wg sync.WaitGroup
	for i, n := range s.nodes {
		wg.Go(func() { errs[i] = n.start(true) })
	}
	wg.Wait()
	for i, n := range s.nodes {
		if errs[i] != nil {
			tb.Fatalf("redistest: starting cluster node: %v%s", errs[i], n.logTail())
		}
		s.Addrs = append(s.Addrs, n.addr())
	}
	s.Addr = s.Addrs[0]

	createCluster(tb, cli, s.Addrs)
	waitClusterOK(tb, s.nodes)
	return s
}

func createCluster(tb testing.TB, cli string, addrs []string) {
	tb.Helper()
	logPath := filepath.Join(tb.TempDir(), "cluster-create.log")
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()

	ctx, cancel := context.WithTimeout(context.Background(), clusterReadyTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v%s", err, fileTail(logPath, "redis-cli"))
	}
}

// waitClusterOK waits until every node sees all slots served. Asking each
// node matters: a client may contact any of them first, and a node that
// has not yet heard of the full slot map answers CLUSTERDOWN.
func waitClusterOK(tb testing.TB, nodes []*node) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterReadyTimeout)
	defer cancel()
	for _, n := range nodes {
		c := probeClient(n.addr(), n.password())
		var info string
		var err error
		for {
			info, err = c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			select {
			case <-ctx.Done():
				_ = c.Close()
				msg := fmt.Sprintf("redistest: cluster not ok on %s after %s (err=%v):\n%s",
					n.addr(), clusterReadyTimeout, err, info)
				for _, m := range nodes {
					msg += m.logTail()
				}
				tb.Fatal(msg)
			case <-time.After(50 * time.Millisecond):
			}
		}
		_ = c.Close()
	}
}
