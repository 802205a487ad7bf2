package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartReplica starts a redis-server that replicates s (a Real server):
// StartReal's defaults, then "--replicaof 127.0.0.1 PORT" (and
// "--masterauth" when s has a password), then args. It returns once the
// replica has finished its first sync and s counts it as an online
// replica, so WAIT on s can be answered by it from the first command. The
// replica is a Server of its own: Stop and Start it to take it away from
// s and bring it back; it is stopped on cleanup.
func (s *Server) StartReplica(tb testing.TB, args ...string) *Server {
	tb.Helper()
	if s.Backend != Real {
		tb.Fatalf("redistest: StartReplica needs a %s server, not %s", Real, s.Backend)
	}
	host, port := "127.0.0.1", strconv.Itoa(s.nodes[0].port)
	extra := []string{"--replicaof", host, port}
	if s.Password != "" {
		extra = append(extra, "--masterauth", s.Password)
	}
	r := StartReal(tb, append(extra, args...)...)
	if err := waitReplicaOnline(s, r); err != nil {
		tb.Fatalf("redistest: replica %s of %s: %v%s", r.Addr, s.Addr, err, r.nodes[0].logTail())
	}
	return r
}

// WaitReplica waits until replica, started by StartReplica, is synced with
// s and online again, e.g. after replica.Start.
func (s *Server) WaitReplica(tb testing.TB, replica *Server) {
	tb.Helper()
	if err := waitReplicaOnline(s, replica); err != nil {
		tb.Fatalf("redistest: replica %s of %s: %v%s", replica.Addr, s.Addr, err, replica.nodes[0].logTail())
	}
}

// waitReplicaOnline polls until replica reports its link to master up and
// master lists the replica as online.
func waitReplicaOnline(master, replica *Server) error {
	mc := probeClient(master.Addr, master.Password)
	defer mc.Close()
	rc := probeClient(replica.Addr, replica.Password)
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	want := "port=" + strconv.Itoa(replica.nodes[0].port) + ",state=online"
	var last string
	for {
		ri, rerr := rc.Info(ctx, "replication").Result()
		mi, merr := mc.Info(ctx, "replication").Result()
		if rerr == nil && merr == nil && strings.Contains(ri, "master_link_status:up") && strings.Contains(mi, want) {
			return nil
		}
		last = fmt.Sprintf("replica: %v %q; master: %v %q", rerr, ri, merr, mi)
		select {
		case <-ctx.Done():
			return fmt.Errorf("not online after %s: %s", readyTimeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
