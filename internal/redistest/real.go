package redistest

import "testing"

// StartReal starts a redis-server from PATH on a free 127.0.0.1 port, with
// its working directory in tb.TempDir(), no RDB snapshots and no AOF:
//
//	--port P --bind 127.0.0.1 --dir DIR --save "" --appendonly no ARGS...
//
// args are appended last so they override the defaults, e.g.
// "--requirepass", "x" (picked up by Client and URL) or "--appendonly", "yes".
// It returns once the server answers PING (10s at most) and stops it on
// cleanup (SIGTERM, SIGKILL after 2s). The server's output goes to
// redis.log in its directory, whose tail is shown if startup fails.
//
// If redis-server is not on PATH the test is skipped, or fails when
// LLMQUEUE_REQUIRE_REDIS=1.
func StartReal(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin := requireBinary(tb, "redis-server")
	ports, err := freePorts(1, false)
	if err != nil {
		tb.Fatal(err)
	}
	n := &node{bin: bin, dir: tb.TempDir(), port: ports[0], extra: append([]string(nil), args...)}
	s := &Server{Backend: Real, Password: n.password(), nodes: []*node{n}}
	s.stopAllOnCleanup(tb)
	if err := n.start(true); err != nil {
		tb.Fatalf("redistest: starting redis-server: %v%s", err, n.logTail())
	}
	// Only now is the port final: start may have moved off a stolen one.
	s.Addr = n.addr()
	s.Addrs = []string{s.Addr}
	return s
}
