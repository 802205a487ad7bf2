package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// server is the Redis the benchmark talks to: either one the user named
// with -redis, or a redis-server this program started (own) and stops at
// the end.
type server struct {
	opts *redis.Options
	own  bool
	desc string // what to print: "redis://127.0.0.1:6379" or "own redis-server ..."

	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// connectServer parses rawURL, refusing anything but a loopback address
// or a Unix socket, and checks that the server answers PING.
func connectServer(ctx context.Context, rawURL string) (*server, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse -redis %q: %w", rawURL, err)
	}
	if opts.Network != "unix" {
		host, _, err := net.SplitHostPort(opts.Addr)
		if err != nil {
			return nil, fmt.Errorf("-redis address %q: %w", opts.Addr, err)
		}
		if !isLoopback(host) {
			return nil, fmt.Errorf("-redis host %q is not a loopback address; this benchmark only talks to a local Redis", host)
		}
	}
	s := &server{opts: opts, desc: "redis at " + redactURL(rawURL)}
	if err := s.ping(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// isLoopback reports whether host is localhost or a loopback IP.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL hides a password in a URL before it is printed.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// startServer runs redis-server on a free loopback port with persistence
// off and a temporary working directory, and waits until it answers.
func startServer(ctx context.Context) (*server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("no -redis given and redis-server not found: %w", err)
	}
	dir, err := os.MkdirTemp("", "llmqueue-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir for redis-server: %w", err)
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("redis-server log: %w", err)
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	setParentDeathSignal(cmd)
	err = cmd.Start()
	_ = logf.Close() // the child holds its own descriptor
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &server{
		opts: &redis.Options{Addr: addr},
		own:  true,
		desc: fmt.Sprintf("own redis-server on %s (started by this program, stopped at the end)", addr),
		cmd:  cmd, dir: dir, done: make(chan struct{}),
	}
	go func() { _ = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.ping(ctx)
		if err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("redis-server exited during startup: %s", strings.TrimSpace(string(log)))
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server on %s not ready: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping checks that the server answers, on a short-lived client.
func (s *server) ping(ctx context.Context) error {
	o := *s.opts
	o.MaxRetries, o.PoolSize, o.DialTimeout = -1, 1, 500*time.Millisecond
	c := redis.NewClient(&o)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping %s: %w", s.opts.Addr, err)
	}
	return nil
}

// client returns a new client with room for poolSize connections, so the
// pool never limits a measurement's goroutines.
func (s *server) client(poolSize int) *redis.Client {
	o := *s.opts
	o.PoolSize = poolSize
	o.MinIdleConns = 0
	return redis.NewClient(&o)
}

// stop ends a server this program started (SIGTERM, then SIGKILL after
// five seconds) and removes its directory. It does nothing otherwise.
func (s *server) stop() {
	if !s.own || s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	_ = os.RemoveAll(s.dir)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free loopback port: not a TCP address")
	}
	return addr.Port, nil
}

// newNamespace returns a namespace nobody else uses: one per measurement.
func newNamespace(name string) string {
	return "bench-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// cleanup removes what one measurement created: everything when the server
// is this program's own, else only the keys of namespace ns.
func (s *server) cleanup(ctx context.Context, admin *redis.Client, ns string) error {
	if s.own {
		if err := admin.FlushAll(ctx).Err(); err != nil {
			return fmt.Errorf("flushall: %w", err)
		}
		return nil
	}
	match := "llmq:{" + ns + "}:*"
	var cursor uint64
	for {
		keys, next, err := admin.Scan(ctx, cursor, match, 1000).Result()
		if err != nil {
			return fmt.Errorf("scan %s: %w", match, err)
		}
		if len(keys) > 0 {
			if err := admin.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("unlink %s: %w", match, err)
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}
