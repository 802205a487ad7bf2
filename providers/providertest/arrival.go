package providertest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"

	"github.com/llmqueue/llmqueue/providers/internal/sendhook"
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

// SentHeader is the request header in which a test client may say when
// its request had its connection and was about to be written, in Unix
// nanoseconds (StampSent sets it). The server then counts the call from
// that moment: on loopback it is when the bytes reach the server, while
// the server's own read of them can come hundreds of milliseconds later
// on a loaded 2-core machine running several race-instrumented processes,
// a delay no provider's limiter has. A time that is not earlier than the
// first read, or more than a second earlier, is ignored.
const SentHeader = "X-Providertest-Sent"

// StampSent returns an HTTP client that sets SentHeader on each request
// once it has its connection. It keeps idle connections for many calls at
// once, as the adapters' default clients do.
func StampSent() *http.Client {
	return &http.Client{Transport: sentStamper{next: sendhook.NewClient().Transport}}
}

type sentStamper struct{ next http.RoundTripper }

func (s sentStamper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	h := r.Header
	// The transport writes the request after GotConn returns, on a
	// goroutine it hands the request to, so the header set here goes out.
	r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { h.Set(SentHeader, strconv.FormatInt(time.Now().UnixNano(), 10)) },
	}))
	return s.next.RoundTrip(r)
}

// stampArrival passes on when each request arrived in its context: when
// its client says it was sent (SentHeader), else when its first bytes were
// read, else handler entry. The body is drained before the connection is rearmed, so the
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
		if n, err := strconv.ParseInt(r.Header.Get(SentHeader), 10, 64); err == nil {
			if sent := time.Unix(0, n); sent.Before(at) && at.Sub(sent) < time.Second {
				at = sent
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
