package redistest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartMini(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := StartMini(t)
	require.NotNil(t, s.Mini)
	assert.Equal(t, Mini, s.Backend)
	assert.Equal(t, "redis://"+s.Addr, s.URL())

	a, b := s.Client(t), s.Client(t)
	require.NoError(t, a.Set(ctx, "k", "v", time.Minute).Err())
	assert.Equal(t, "v", b.Get(ctx, "k").Val())

	// FastForward is why Mini is exposed: TTLs without sleeping.
	s.Mini.FastForward(2 * time.Minute)
	assert.ErrorIs(t, b.Get(ctx, "k").Err(), redis.Nil)
}

func TestStartReal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := StartReal(t)
	assert.Equal(t, Real, s.Backend)
	assert.True(t, strings.HasPrefix(s.Addr, "127.0.0.1:"), s.Addr)
	assert.Equal(t, []string{s.Addr}, s.Addrs)
	assert.Equal(t, "redis://"+s.Addr, s.URL())

	a, b := s.Client(t), s.Client(t)
	require.NoError(t, a.Set(ctx, "k", "v", 0).Err())
	assert.Equal(t, "v", b.Get(ctx, "k").Val())

	// Separate pools, as separate processes would have.
	assert.NotSame(t, a, b)
	a.Close()
	assert.Equal(t, "v", b.Get(ctx, "k").Val())

	cfg, err := b.ConfigGet(ctx, "*").Result()
	require.NoError(t, err)
	assert.Equal(t, "", cfg["save"])
	assert.Equal(t, "no", cfg["appendonly"])
	assert.Equal(t, "127.0.0.1", cfg["bind"])
}

func TestStartRealRequirePass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := StartReal(t, "--requirepass", "s3cret")
	assert.Equal(t, "s3cret", s.Password)

	require.NoError(t, s.Client(t).Set(ctx, "k", "v", 0).Err())

	anon := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer anon.Close()
	assert.ErrorContains(t, anon.Get(ctx, "k").Err(), "NOAUTH")

	opt, err := redis.ParseURL(s.URL())
	require.NoError(t, err)
	viaURL := redis.NewClient(opt)
	defer viaURL.Close()
	assert.Equal(t, "v", viaURL.Get(ctx, "k").Val())
}

func TestRestartKeepsAOFData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := StartReal(t, "--appendonly", "yes")
	addr := s.Addr
	c := s.Client(t)
	require.NoError(t, c.Set(ctx, "durable", "yes", 0).Err())

	s.Restart(t)
	assert.Equal(t, addr, s.Addr)
	// The pre-restart client must simply reconnect, as production code would.
	assert.Equal(t, "yes", c.Get(ctx, "durable").Val())
	assert.Equal(t, "yes", s.Client(t).Get(ctx, "durable").Val())
}

func TestStopStart(t *testing.T) {
	t.Parallel()
	Each(t, func(t *testing.T, s *Server) {
		t.Parallel()
		ctx := context.Background()
		c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		defer c.Close()
		require.NoError(t, c.Ping(ctx).Err())

		s.Stop(t)
		s.Stop(t) // stopping twice is harmless
		assert.Error(t, c.Ping(ctx).Err(), "server should be unreachable while stopped")

		s.Start(t)
		assert.NoError(t, c.Ping(ctx).Err())
	})
}

func TestEach(t *testing.T) {
	t.Parallel()
	var names []string
	Each(t, func(t *testing.T, s *Server) {
		names = append(names, t.Name())
		assert.Equal(t, "TestEach/"+string(s.Backend), t.Name())
		require.NoError(t, s.Client(t).Ping(context.Background()).Err())
	})
	assert.Contains(t, names, "TestEach/"+string(Mini))
	assert.Contains(t, names, "TestEach/"+string(Real))
}

func TestStartCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := StartCluster(t)
	assert.Equal(t, Cluster, s.Backend)
	require.Len(t, s.Addrs, 3)
	assert.Equal(t, s.Addrs[0], s.Addr)

	c, ok := s.Client(t).(*redis.ClusterClient)
	require.True(t, ok, "Client should be a *redis.ClusterClient")

	// Pick keys until every master owns one, so the test proves routing to
	// all three nodes rather than to whichever happens to own one slot.
	byNode := map[string]string{}
	for i := 0; len(byNode) < 3 && i < 1000; i++ {
		key := fmt.Sprintf("key-%d", i)
		master, err := c.MasterForKey(ctx, key)
		require.NoError(t, err)
		if _, seen := byNode[master.Options().Addr]; !seen {
			byNode[master.Options().Addr] = key
		}
	}
	require.Len(t, byNode, 3)
	for addr, key := range byNode {
		assert.Contains(t, s.Addrs, addr)
		require.NoError(t, c.Set(ctx, key, addr, 0).Err())
	}

	other := s.Client(t)
	for addr, key := range byNode {
		assert.Equal(t, addr, other.Get(ctx, key).Val())
		// The key must physically live on the node that owns its slot.
		direct := redis.NewClient(&redis.Options{Addr: addr})
		assert.Equal(t, addr, direct.Get(ctx, key).Val())
		direct.Close()
	}

	// A restarted cluster must come back healthy from its nodes.conf.
	s.Restart(t)
	require.NoError(t, other.Set(ctx, "after-restart", "1", 0).Err())
}

// fakeTB records how a helper ends a test instead of ending the real one.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Skip(args ...any) {
	f.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

func runFake(t *testing.T, start func(testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		start(f)
	}()
	<-done
	return f
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	starts := map[string]func(testing.TB){
		"real":    func(tb testing.TB) { StartReal(tb) },
		"cluster": func(tb testing.TB) { StartCluster(tb) },
	}
	for name, start := range starts {
		t.Run(name, func(t *testing.T) {
			t.Setenv(EnvRequireRedis, "")
			f := runFake(t, start)
			assert.Equal(t, "redis-server not installed", f.skip)
			assert.Empty(t, f.fatal)

			t.Setenv(EnvRequireRedis, "1")
			f = runFake(t, start)
			assert.Empty(t, f.skip)
			assert.Contains(t, f.fatal, "redis-server not found on PATH")
		})
	}
}
