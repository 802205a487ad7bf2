package providertest

import (
	"context"
	"net/http"
	"time"
)

// arrivalKey is the request-context key of the time a request arrived.
type arrivalKey struct{}

// stampArrival records when each request reached the server, before its
// body is read and checked, and passes it on in the request's context. A
// provider counts a call against its window from when it receives it; on a
// busy test machine the handler may run a while later, and counting from
// then would hold the call in the window longer than the provider does.
func stampArrival(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), arrivalKey{}, time.Now())))
	})
}

// arrival returns when r reached the server (now when unknown).
func arrival(r *http.Request) time.Time {
	if t, ok := r.Context().Value(arrivalKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}
