// Package redistest gives tests a Redis of their own to talk to: an
// in-process miniredis, a real redis-server process, or a small real cluster.
//
// Every test gets a fresh server rather than sharing one and flushing it, so
// tests can run in parallel and a failing test cannot leak state into the
// next one.
package redistest

import (
	"net/url"
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Backend names a kind of Redis under test.
type Backend string

const (
	// Mini is the in-process github.com/alicebob/miniredis/v2 fake.
	Mini Backend = "miniredis"
	// Real is a redis-server process started from PATH.
	Real Backend = "redis-server"
	// Cluster is three redis-server masters joined into a Redis Cluster.
	Cluster Backend = "cluster"
)

// Environment variables that change how the helpers behave.
const (
	// EnvRequireRedis set to "1" turns a missing redis-server or redis-cli
	// into a test failure instead of a skip, so CI cannot silently lose the
	// real-server coverage.
	EnvRequireRedis = "LLMQUEUE_REQUIRE_REDIS"
	// EnvTestCluster set to "1" makes Each also run against a Cluster;
	// it is opt-in because forming a cluster costs seconds per test.
	EnvTestCluster = "LLMQUEUE_TEST_CLUSTER"
)

// Server is a running Redis for one test. It is stopped and its files are
// removed by the test's cleanup.
type Server struct {
	// Backend says which kind of Redis this is.
	Backend Backend
	// Addr is host:port of the server; for a Cluster, of its first node.
	Addr string
	// Addrs lists host:port of every node (just Addr unless Cluster).
	Addrs []string
	// Password is the value of a "--requirepass" argument, if one was given;
	// Client and URL use it.
	Password string
	// Mini is the miniredis instance when Backend is Mini (nil otherwise),
	// for things only a fake can do, such as FastForward.
	Mini *miniredis.Miniredis

	nodes []*node // redis-server processes for Real and Cluster
}

// Client returns a new client connected to the server. Each call builds a
// separate client with its own connection pool, as separate processes would
// have. It is a *redis.ClusterClient for a Cluster and a *redis.Client
// otherwise, and is closed by the test's cleanup.
func (s *Server) Client(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	var c redis.UniversalClient
	if s.Backend == Cluster {
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: s.Addrs, Password: s.Password})
	} else {
		c = redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.Password})
	}
	// The test may already have closed it; the resulting error means nothing.
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// URL returns redis://host:port for the server (the first node of a
// Cluster), with the password as redis://:password@host:port when one is
// set, so code that reads REDIS_URL can be pointed at it.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr}
	if s.Password != "" {
		u.User = url.UserPassword("", s.Password)
	}
	return u.String()
}

// StartMini starts an in-process miniredis on a free loopback port and
// closes it on cleanup.
func StartMini(tb testing.TB) *Server {
	tb.Helper()
	m := miniredis.RunT(tb)
	return &Server{Backend: Mini, Addr: m.Addr(), Addrs: []string{m.Addr()}, Mini: m}
}

// Stop shuts the server down, leaving its data and port reserved for Start,
// so tests can see how code behaves while Redis is unreachable. A real
// server gets SIGTERM so it can finish writing its append-only file.
// Stopping a stopped server does nothing.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if s.Mini != nil {
		s.Mini.Close()
		return
	}
	for _, n := range s.nodes {
		if killed := n.stop(stopGrace); killed {
			tb.Logf("redistest: %s did not exit within %s of SIGTERM; killed it", n.addr(), stopGrace)
		}
	}
}

// Start brings a stopped server back on the same port, directory and
// arguments, and waits until it answers (for a Cluster, until the cluster
// is healthy again). miniredis keeps its data across Stop and Start; a real
// server keeps only what its persistence settings saved.
func (s *Server) Start(tb testing.TB) {
	tb.Helper()
	if s.Mini != nil {
		if err := s.Mini.Restart(); err != nil {
			tb.Fatalf("redistest: restarting miniredis on %s: %v", s.Addr, err)
		}
		return
	}
	for _, n := range s.nodes {
		// No port retry: callers hold the address, so it must not change.
		if err := n.start(false); err != nil {
			tb.Fatalf("redistest: restarting %s: %v%s", n.addr(), err, n.logTail())
		}
	}
	if s.Backend == Cluster {
		waitClusterOK(tb, s.nodes)
	}
}

// Restart is Stop followed by Start, e.g. to check what survives a restart
// with "--appendonly", "yes".
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop(tb)
	s.Start(tb)
}

// Each runs fn as a subtest against every backend, each subtest named after
// its Backend and given its own fresh server: always Mini and Real, and
// Cluster too when LLMQUEUE_TEST_CLUSTER=1. A backend whose binaries are
// missing skips only its own subtest (see StartReal).
func Each(t *testing.T, fn func(t *testing.T, s *Server)) {
	t.Helper()
	starts := []struct {
		backend Backend
		start   func(testing.TB) *Server
	}{
		{Mini, StartMini},
		{Real, func(tb testing.TB) *Server { return StartReal(tb) }},
	}
	if os.Getenv(EnvTestCluster) == "1" {
		starts = append(starts, struct {
			backend Backend
			start   func(testing.TB) *Server
		}{Cluster, StartCluster})
	}
	for _, b := range starts {
		t.Run(string(b.backend), func(t *testing.T) {
			fn(t, b.start(t))
		})
	}
}
