// Package sendhook calls llmqueue.BeforeSend as late as an adapter can: in
// its SDK's HTTP client, after the SDK has encoded and signed the request,
// and again once the connection is ready and the request is written. The
// ledger then counts the call from (about) the moment the provider does,
// however long the SDK took to get there or the connection took to open.
//
// Opening a connection is the longest step: measured with 16 calls per
// process on a loaded 2-core machine, 90 of 95 calls whose bytes left more
// than 30 ms after the first BeforeSend had dialed a new connection (up to
// 130 ms), because Go's default transport keeps only 2 idle connections
// per host. NewClient keeps enough for a worker's concurrency.
package sendhook

import (
	"net/http"
	"net/http/httptrace"

	"github.com/llmqueue/llmqueue"
)

// Doer is the HTTP client interface the SDKs take (go-openai's HTTPDoer,
// aws.HTTPClient).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Wrap returns a Doer that calls llmqueue.BeforeSend with each request's
// context and then next. A nil next means http.DefaultClient.
func Wrap(next Doer) Doer {
	if next == nil {
		next = http.DefaultClient
	}
	return hooked{next: next}
}

type hooked struct{ next Doer }

func (h hooked) Do(r *http.Request) (*http.Response, error) {
	llmqueue.BeforeSend(r.Context())
	return h.next.Do(Trace(r))
}

// Trace returns r with a client trace that calls llmqueue.BeforeSend again
// when r has a connection, just before it is written: a new connection
// (a dial, a TLS handshake) can take longer than the ledger's margin.
func Trace(r *http.Request) *http.Request {
	ctx := r.Context()
	return r.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { llmqueue.BeforeSend(ctx) },
	}))
}

// MaxIdleConnsPerHost is how many idle connections NewClient keeps per
// host: more than a worker runs calls at once, so calls reuse connections.
const MaxIdleConnsPerHost = 256

// NewClient returns the HTTP client an adapter uses when its user gave
// none: Go's default transport, keeping MaxIdleConnsPerHost idle
// connections per host instead of 2.
func NewClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no overall limit; per host is what matters
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	return &http.Client{Transport: t}
}
