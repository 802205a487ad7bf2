package llmqueue

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDurability_RefusesWhatItCannotConfirm(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	t.Cleanup(func() { _ = rdb.Close() })
	for name, d := range map[string]Durability{
		"negative replicas":        {Replicas: -1},
		"negative timeout":         {Replicas: 1, Timeout: -time.Second},
		"timeout above op timeout": {Replicas: 1, Timeout: 10 * time.Second},
	} {
		_, err := NewQueueManager(rdb, &Config{Durability: d})
		assert.ErrorContains(t, err, "durable add", name)
	}
	qm, err := NewQueueManager(rdb, &Config{Durability: Durability{Replicas: 1}})
	require.NoError(t, err, "NewQueueManager must not talk to Redis")
	assert.Equal(t, defaultDurableTimeout, qm.cfg.durable.Timeout)
	require.NoError(t, (&QueueManager{cfg: managerConfig{}}).CheckDurability(context.Background()),
		"without a Durability there is nothing to check")
}

// TestDurableAdd_WaitsForTheReplica is issue 9 item 15's test of WAIT on
// a real master and replica: a confirmed Add is on the replica the moment
// it returns; with the replica gone, Add still queues the request but
// says it is not confirmed, and says so again once the replica is back.
func TestDurableAdd_WaitsForTheReplica(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	master := redistest.StartReal(t)
	replica := master.StartReplica(t)
	ctx := context.Background()
	qm, err := NewQueueManager(master.Client(t), &Config{Namespace: "dur", Durability: Durability{Replicas: 1, Timeout: 500 * time.Millisecond}})
	require.NoError(t, err)
	onReplica, err := NewQueueManager(replica.Client(t), &Config{Namespace: "dur"})
	require.NoError(t, err)
	require.NoError(t, qm.CheckDurability(ctx))

	for i := range 20 {
		id, err := qm.Add(ctx, NewRequest(map[string]int{"n": i}))
		require.NoError(t, err)
		st, err := onReplica.Status(ctx, id)
		require.NoError(t, err, "a confirmed Add must already be on the replica")
		assert.Equal(t, StatusQueued, st.Status)
	}

	replica.Stop(t)
	start := time.Now()
	id, err := qm.Add(ctx, NewRequest(map[string]string{"q": "alone"}, WithID("alone")))
	assert.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond, "Add waited for the replica")
	require.ErrorIs(t, err, ErrNotDurable)
	assert.Empty(t, id)
	var de *DurabilityError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, []string{"alone"}, de.IDs)
	assert.Equal(t, 0, de.Replicas)
	assert.Contains(t, err.Error(), "add alone: stored and queued, but durability not confirmed (want WAIT 1 within 500ms; got 0 replicas)")
	st, err := qm.Status(ctx, "alone")
	require.NoError(t, err, "an unconfirmed Add is still queued")
	assert.Equal(t, StatusQueued, st.Status)
	assert.ErrorIs(t, qm.CheckDurability(ctx), ErrNotDurable)

	replica.Start(t)
	master.WaitReplica(t, replica)
	require.NoError(t, qm.CheckDurability(ctx))
	st, err = onReplica.Status(ctx, "alone")
	require.NoError(t, err, "the replica catches up on what it missed")
	assert.Equal(t, StatusQueued, st.Status)
}

// TestDurableAdd_ReportsWhatThisRedisCannotConfirm: asking for an fsynced
// AOF needs WAITAOF (Redis 7.2+) and appendonly yes. Where either is
// missing, Add queues the request and fails with ErrDurabilityUnsupported,
// and CheckDurability says so before any Add; it is never ignored.
func TestDurableAdd_ReportsWhatThisRedisCannotConfirm(t *testing.T) {
	ctx := context.Background()
	for _, appendonly := range []string{"yes", "no"} {
		t.Run("appendonly="+appendonly, func(t *testing.T) {
			s := redistest.StartReal(t, "--appendonly", appendonly)
			rdb := s.Client(t)
			qm, err := NewQueueManager(rdb, &Config{Namespace: "aof", Durability: Durability{AOF: true}})
			require.NoError(t, err)
			hasWAITAOF := redisAtLeast(t, rdb, 7, 2)

			check := qm.CheckDurability(ctx)
			id, err := qm.Add(ctx, NewRequest(map[string]string{"q": "aof"}, WithID("aof-1")))
			if hasWAITAOF && appendonly == "yes" {
				require.NoError(t, check)
				require.NoError(t, err)
				assert.Equal(t, "aof-1", id)
				return
			}
			for _, err := range []error{check, err} {
				require.ErrorIs(t, err, ErrDurabilityUnsupported)
				var de *DurabilityError
				require.ErrorAs(t, err, &de)
				require.Error(t, de.Err, "the server's reason")
				if !hasWAITAOF {
					assert.Contains(t, de.Err.Error(), "unknown command")
				} else {
					assert.Contains(t, de.Err.Error(), "appendonly")
				}
			}
			var de *DurabilityError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, []string{"aof-1"}, de.IDs)
			st, err := qm.Status(ctx, "aof-1")
			require.NoError(t, err, "the request is queued although durability could not be confirmed")
			assert.Equal(t, StatusQueued, st.Status)
		})
	}
}

// redisAtLeast reports whether the server's version is major.minor or later.
func redisAtLeast(t *testing.T, rdb redis.UniversalClient, major, minor int) bool {
	t.Helper()
	info, err := rdb.Info(context.Background(), "server").Result()
	require.NoError(t, err)
	m := regexp.MustCompile(`redis_version:(\d+)\.(\d+)`).FindStringSubmatch(info)
	require.NotNil(t, m, info)
	maj, _ := strconv.Atoi(m[1])
	mnr, _ := strconv.Atoi(m[2])
	return maj > major || (maj == major && mnr >= minor)
}

func TestDurableAdd_OnMiniredisNoReplicaConfirms(t *testing.T) {
	s := redistest.StartMini(t)
	qm, err := NewQueueManager(s.Client(t), &Config{Durability: Durability{Replicas: 1, Timeout: 50 * time.Millisecond}})
	require.NoError(t, err)
	_, err = qm.Add(context.Background(), NewRequest(map[string]int{"a": 1}))
	require.ErrorIs(t, err, ErrNotDurable)

	qm, err = NewQueueManager(s.Client(t), &Config{Durability: Durability{AOF: true}})
	require.NoError(t, err)
	require.ErrorIs(t, qm.CheckDurability(context.Background()), ErrDurabilityUnsupported,
		"miniredis has no WAITAOF")
}

// TestDurableAdd_RefusesClientsThatCannotWait: a WAIT that the client's
// ReadTimeout would cut off, and a client that cannot pin the write's
// connection, are reported, not waited for in vain.
func TestDurableAdd_RefusesClientsThatCannotWait(t *testing.T) {
	s := redistest.StartMini(t)
	short := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = short.Close() })
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": s.Addr}})
	t.Cleanup(func() { _ = ring.Close() })
	for name, rdb := range map[string]redis.UniversalClient{"ReadTimeout": short, "Ring": ring} {
		qm, err := NewQueueManager(rdb, &Config{Durability: Durability{Replicas: 1, Timeout: time.Second}})
		require.NoError(t, err)
		err = qm.CheckDurability(context.Background())
		assert.ErrorIs(t, err, ErrDurabilityUnsupported, name)
		t.Log(err)
	}
}

// TestDurableAdd_OnClusterWaitsOnTheKeysMaster: WAIT has no key, so a
// ClusterClient would send it to any node; it must reach the master that
// holds the namespace's slot, on the connection of the marker write.
func TestDurableAdd_OnClusterWaitsOnTheKeysMaster(t *testing.T) {
	t.Parallel()
	if os.Getenv(redistest.EnvTestCluster) != "1" {
		t.Skip("set " + redistest.EnvTestCluster + "=1 to run cluster tests")
	}
	s := redistest.StartCluster(t)
	rdb := s.Client(t)
	ctx := context.Background()
	for _, ns := range []string{"a", "b", "c", "d"} { // slots on different masters
		qm, err := NewQueueManager(rdb, &Config{Namespace: ns, Durability: Durability{Replicas: 1, Timeout: 50 * time.Millisecond}})
		require.NoError(t, err)
		id, err := qm.Add(ctx, NewRequest(map[string]string{"ns": ns}))
		var de *DurabilityError
		require.ErrorAs(t, err, &de, "the cluster has no replicas")
		require.NoError(t, de.Err, "WAIT answered (no MOVED, no CROSSSLOT): %v", err)
		assert.Equal(t, 0, de.Replicas)
		assert.Empty(t, id)
		marker, err := rdb.Get(ctx, rawKeys(qm).Durable).Result()
		require.NoError(t, err)
		assert.Equal(t, de.IDs[0], marker)
	}
}
