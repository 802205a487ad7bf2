// Package sendhook calls llmqueue.BeforeSend as late as an adapter can: in
// its SDK's HTTP client, after the SDK has encoded and signed the request
// and just before it goes out. The ledger then counts the call from (about)
// the moment the provider does, however long the SDK took to get there.
package sendhook

import (
	"net/http"

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
	return h.next.Do(r)
}
