package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	readyTimeout   = 10 * time.Second
	stopGrace      = 10 * time.Second // Stop: give AOF time to be flushed
	cleanupGrace   = 2 * time.Second  // cleanup: data no longer matters
	portAttempts   = 3                // startups retried after a port was stolen
	clusterBusGap  = 10000            // Redis Cluster bus listens on port+10000
	maxClusterPort = 65535 - clusterBusGap
	logName        = "redis.log"
	tailLines      = 30
)

// node is one redis-server process, restartable with the same command line.
type node struct {
	bin     string
	dir     string
	port    int
	cluster bool
	extra   []string // caller's arguments, appended last so they win

	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has been reaped
}

func (n *node) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

func (n *node) argv() []string {
	args := []string{
		"--port", strconv.Itoa(n.port),
		"--bind", "127.0.0.1",
		"--dir", n.dir,
		"--save", "",
		"--appendonly", "no",
	}
	if n.cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000")
	}
	return append(args, n.extra...)
}

// start launches the process and waits until it answers PING. With
// newPortOnClash, a bind failure (another process took the port between
// freePorts closing it and redis-server binding it) is retried on a fresh
// port; otherwise the port is fixed because callers already hold it.
func (n *node) start(newPortOnClash bool) error {
	for attempt := 1; ; attempt++ {
		logStart := n.logSize()
		err := n.launch()
		if err == nil || !newPortOnClash || attempt == portAttempts ||
			!bytes.Contains(n.logFrom(logStart), []byte("Address already in use")) {
			return err
		}
		n.stop(cleanupGrace)
		ports, perr := freePorts(1, n.cluster)
		if perr != nil {
			return perr
		}
		n.port = ports[0]
	}
}

func (n *node) launch() error {
	if n.cmd != nil {
		return fmt.Errorf("%s is already running", n.addr())
	}
	logf, err := os.OpenFile(filepath.Join(n.dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.bin, n.argv()...)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	setParentDeathSignal(cmd)
	err = cmd.Start()
	// The child holds its own descriptor; ours is only needed to hand it over.
	_ = logf.Close()
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	n.cmd, n.done = cmd, done
	return n.waitReady()
}

func (n *node) waitReady() error {
	c := probeClient(n.addr(), n.password())
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	var lastErr error
	for {
		// PING also fails while an AOF is being loaded, which is exactly
		// when the server is not yet usable.
		if lastErr = c.Ping(ctx).Err(); lastErr == nil {
			return nil
		}
		select {
		case <-n.done:
			return fmt.Errorf("redis-server on %s exited during startup (%v)", n.addr(), n.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("redis-server on %s not answering PING after %s: %v", n.addr(), readyTimeout, lastErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, escalates to SIGKILL after grace, and reaps the
// process. It reports whether SIGKILL was needed.
func (n *node) stop(grace time.Duration) (killed bool) {
	if n.cmd == nil {
		return false
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(grace):
		_ = n.cmd.Process.Kill()
		<-n.done
		killed = true
	}
	n.cmd, n.done = nil, nil
	return killed
}

// password finds "--requirepass x" among the caller's arguments; the last
// one wins, as it does for redis-server.
func (n *node) password() string {
	pw := ""
	for i := 0; i+1 < len(n.extra); i++ {
		if n.extra[i] == "--requirepass" {
			pw = n.extra[i+1]
		}
	}
	return pw
}

func (n *node) logSize() int64 {
	fi, err := os.Stat(filepath.Join(n.dir, logName))
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (n *node) logFrom(off int64) []byte {
	b, _ := os.ReadFile(filepath.Join(n.dir, logName))
	if off > int64(len(b)) {
		return nil
	}
	return b[off:]
}

// logTail formats the end of the server's log for a failure message.
func (n *node) logTail() string {
	return fileTail(filepath.Join(n.dir, logName), "redis-server "+n.addr())
}

func fileTail(path, what string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("\n(no log for %s: %v)", what, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return fmt.Sprintf("\n--- last lines of %s (%s) ---\n%s", what, path, strings.Join(lines, "\n"))
}

// probeClient is for readiness polling: short timeouts and no retries so a
// poll never blocks for long, which the default client options would.
func probeClient(addr, password string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         addr,
		Password:     password,
		DialTimeout:  250 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		MaxRetries:   -1,
		PoolSize:     1,
	})
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// All listeners stay open until every port is chosen so the kernel cannot
// hand out the same port twice. With clusterBus the port+10000 bus port must
// be free too, which only ports up to 55535 can offer.
func freePorts(count int, clusterBus bool) ([]int, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < count; tries++ {
		if tries > 200 {
			return nil, errors.New("redistest: no free loopback port found")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("redistest: finding a free port: %w", err)
		}
		held = append(held, l)
		p := l.Addr().(*net.TCPAddr).Port
		if !clusterBus {
			ports = append(ports, p)
			continue
		}
		if p > maxClusterPort {
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+clusterBusGap)))
		if err != nil {
			continue
		}
		held = append(held, bus)
		ports = append(ports, p)
	}
	return ports, nil
}

// requireBinary returns the path of a Redis binary, or ends the test: a
// skip on developer machines without Redis, a failure where
// LLMQUEUE_REQUIRE_REDIS=1 says Redis must be there.
func requireBinary(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv(EnvRequireRedis) == "1" {
		tb.Fatalf("redistest: %s not found on PATH but %s=1: %v", name, EnvRequireRedis, err)
	}
	tb.Skip(name + " not installed")
	return ""
}

// stopAllOnCleanup registers the process teardown. It must be registered
// before the first start so that a server that started but never became
// ready is still killed, and after the TempDirs so it runs before they are
// removed.
func (s *Server) stopAllOnCleanup(tb testing.TB) {
	tb.Cleanup(func() {
		for _, n := range s.nodes {
			n.stop(cleanupGrace)
			if tb.Failed() {
				tb.Log(n.logTail())
			}
		}
	})
}
