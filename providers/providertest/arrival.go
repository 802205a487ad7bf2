package providertest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// A provider counts a call against its window from when it receives it.
// On a busy test machine this fake server's handler runs a while after the
// bytes arrived: a burst of calls released together by the budget queues
// behind header parsing (slow under the race detector), and counting from
// handler entry held the last calls of a burst in the window up to 100 ms
// longer than a provider would, a delay of this harness, not of the queue.
// So the server stamps a request when the first bytes of it are read off
// its connection.

// arrivalKey is the request-context key of the time a request arrived.
type arrivalKey struct{}

// connKey is the request-context key of the request's *arrivalConn.
type connKey struct{}

// newArrivalServer starts an httptest server that stamps each request with
// when its first bytes were read.
func newArrivalServer(next http.Handler) *httptest.Server {
	s := httptest.NewUnstartedServer(stampArrival(next))
	s.Listener = arrivalListener{s.Listener}
	s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if ac, ok := c.(*arrivalConn); ok {
			return context.WithValue(ctx, connKey{}, ac)
		}
		return ctx
	}
	s.Start()
	return s
}

// arrivalListener hands out connections that note when a request's first
// bytes are read.
type arrivalListener struct{ net.Listener }

func (l arrivalListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &arrivalConn{Conn: c, armed: true}, nil
}

// arrivalConn notes the time of the first read that returns bytes while
// armed: armed from accept and again once a request has been answered, so
// the note is the next request's first bytes, not its body's.
type arrivalConn struct {
	net.Conn
	mu    sync.Mutex
	armed bool
	first time.Time
}

func (c *arrivalConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		now := time.Now()
		c.mu.Lock()
		if c.armed {
			c.first, c.armed = now, false
		}
		c.mu.Unlock()
	}
	return n, err
}

// firstRead returns when the current request's first bytes were read.
func (c *arrivalConn) firstRead() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first
}

// rearm makes the next read that returns bytes the next request's arrival.
func (c *arrivalConn) rearm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = true
}

// stampArrival passes on when each request arrived in its context: when
// its first bytes were read, or handler entry when the connection does not
// say. The body is drained before the connection is rearmed, so the
// server's own discard of an unread body is not taken for a new request.
func stampArrival(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		ac, _ := r.Context().Value(connKey{}).(*arrivalConn)
		if ac != nil {
			if t := ac.firstRead(); !t.IsZero() && t.Before(at) {
				at = t
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), arrivalKey{}, at)))
		if ac != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			ac.rearm()
		}
	})
}

// arrival returns when r reached the server (now when unknown).
func arrival(r *http.Request) time.Time {
	if t, ok := r.Context().Value(arrivalKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}
