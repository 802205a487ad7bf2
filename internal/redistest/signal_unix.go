//go:build unix

package redistest

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// PID returns a real server's process id, read from INFO.
func (s *Server) PID(tb testing.TB) int {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.Password})
	defer c.Close()
	info, err := c.Info(context.Background(), "server").Result()
	if err != nil {
		tb.Fatalf("redistest: INFO server on %s: %v", s.Addr, err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				tb.Fatalf("redistest: process_id %q: %v", v, err)
			}
			return pid
		}
	}
	tb.Fatalf("redistest: no process_id in INFO server on %s", s.Addr)
	return 0
}

// Crash SIGKILLs a real server, so only what its append-only file already
// holds survives, and starts it again on the same port.
func (s *Server) Crash(tb testing.TB) {
	tb.Helper()
	if err := syscall.Kill(s.PID(tb), syscall.SIGKILL); err != nil {
		tb.Fatalf("redistest: SIGKILL %s: %v", s.Addr, err)
	}
	s.Stop(tb) // reaps the dead process
	s.Start(tb)
}

// Pause SIGSTOPs a real server for d: it neither answers nor drops
// connections, as a stalled VM or a long fork does.
func (s *Server) Pause(tb testing.TB, d time.Duration) {
	tb.Helper()
	pid := s.PID(tb)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		tb.Fatalf("redistest: SIGSTOP %s: %v", s.Addr, err)
	}
	time.Sleep(d)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		tb.Fatalf("redistest: SIGCONT %s: %v", s.Addr, err)
	}
}
