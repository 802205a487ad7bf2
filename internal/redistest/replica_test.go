package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStartReplica_CopiesWritesAndAnswersWait: the replica holds the
// master's writes, WAIT counts it, and it can be stopped and brought back.
func TestStartReplica_CopiesWritesAndAnswersWait(t *testing.T) {
	master := StartReal(t, "--requirepass", "pw")
	replica := master.StartReplica(t)
	ctx := context.Background()
	mc, rc := master.Client(t), replica.Client(t)

	// WAIT counts the writes of its own connection; a pipeline keeps the
	// write and the WAIT on one.
	setAndWait := func(v string, timeout time.Duration) int64 {
		t.Helper()
		var wait *redis.Cmd
		_, err := mc.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "k", v, 0)
			wait = p.Do(ctx, "WAIT", 1, timeout.Milliseconds())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := wait.Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := setAndWait("v1", 2*time.Second); n != 1 {
		t.Fatalf("WAIT 1 = %d; want the replica's acknowledgement", n)
	}
	if v, err := rc.Get(ctx, "k").Result(); err != nil || v != "v1" {
		t.Fatalf("replica GET k = %q, %v; want the master's write", v, err)
	}

	replica.Stop(t)
	if n := setAndWait("v2", 100*time.Millisecond); n != 0 {
		t.Fatalf("WAIT 1 with the replica stopped = %d; want 0", n)
	}
	replica.Start(t)
	master.WaitReplica(t, replica)
	if n := setAndWait("v3", 2*time.Second); n != 1 {
		t.Fatalf("WAIT 1 after the replica came back = %d; want 1", n)
	}
	if v, err := rc.Get(ctx, "k").Result(); err != nil || v != "v3" {
		t.Fatalf("replica GET k after restart = %q, %v; want v3", v, err)
	}
}

func TestStartReplica_RefusesMiniredis(t *testing.T) {
	m := StartMini(t)
	f := runFake(t, func(tb testing.TB) { m.StartReplica(tb) })
	if !strings.Contains(f.fatal, "StartReplica needs a redis-server server") {
		t.Fatalf("StartReplica of a miniredis: fatal %q; want a refusal", f.fatal)
	}
}
