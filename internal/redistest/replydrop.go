package redistest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// ReplyDropper is a TCP proxy in front of one Redis address that passes
// every command through but can swallow the server's replies, so a test can
// make "the command ran, its answer was lost": what a client sees when
// Redis pauses past its read timeout or the network drops a reply. Point a
// client at Addr. It works for a single server, not a Cluster (a cluster
// client would learn the nodes' own addresses).
type ReplyDropper struct {
	// Addr is the proxy's host:port.
	Addr string

	ln      net.Listener
	backend string

	mu       sync.Mutex
	dropNext int  // replies still to swallow
	dropAll  bool // swallow every reply
	conns    []net.Conn
	closed   bool
}

// NewReplyDropper starts a proxy to backend on a free loopback port and
// closes it, with every connection through it, on cleanup.
func NewReplyDropper(tb testing.TB, backend string) *ReplyDropper {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: reply dropper: %v", err)
	}
	d := &ReplyDropper{Addr: ln.Addr().String(), ln: ln, backend: backend}
	go d.accept()
	tb.Cleanup(d.close)
	return d
}

// DropNext swallows the next n replies (one read from the server each;
// the small replies of a test arrive in one read).
func (d *ReplyDropper) DropNext(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropNext = n
}

// DropAll swallows every reply while on is true.
func (d *ReplyDropper) DropAll(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropAll = on
}

// drop reports whether the reply just read is to be swallowed.
func (d *ReplyDropper) drop() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dropAll {
		return true
	}
	if d.dropNext > 0 {
		d.dropNext--
		return true
	}
	return false
}

func (d *ReplyDropper) track(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.conns = append(d.conns, c)
	return true
}

func (d *ReplyDropper) close() {
	d.mu.Lock()
	d.closed = true
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	_ = d.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (d *ReplyDropper) accept() {
	for {
		client, err := d.ln.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.Dial("tcp", d.backend)
		if err != nil {
			_ = client.Close()
			continue
		}
		if !d.track(client) || !d.track(server) {
			_ = client.Close()
			_ = server.Close()
			return
		}
		go func() {
			// Commands go through untouched; closing either side ends both.
			_, _ = io.Copy(server, client)
			_ = server.Close()
			_ = client.Close()
		}()
		go d.replies(server, client)
	}
}

func (d *ReplyDropper) replies(server, client net.Conn) {
	defer func() { _ = client.Close(); _ = server.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 && !d.drop() {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
