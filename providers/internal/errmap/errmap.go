// Package errmap turns what a provider call failed with into the queue's
// error classes, the same way for every adapter (see package providers for
// the table).
package errmap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers"
	"github.com/llmqueue/llmqueue/providers/internal/ratelimit"
)

// Status classifies a failed call by its HTTP status. h holds the response
// headers (nil when unknown); they give the wait of a 429 and the least delay
// of a retryable failure. err is the SDK's error and stays in the chain.
//
//	429                 -> RateLimited(wait from the headers)
//	401, 403            -> Permanent(ErrAuth)
//	408, 409, 5xx       -> Retryable(ErrUnavailable)
//	other 4xx           -> Permanent(ErrBadRequest)
//	anything else       -> Retryable(ErrUnavailable)
//
// 408 and 409 are retried the way OpenAI's own SDKs retry them.
func Status(provider string, status int, h http.Header, err error) error {
	switch {
	case status == http.StatusTooManyRequests:
		return RateLimited(provider, h, err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Permanent(provider, providers.ErrAuth, err)
	case status == http.StatusRequestTimeout || status == http.StatusConflict || status >= 500:
		return Retryable(provider, h, err)
	case status >= 400:
		return Permanent(provider, providers.ErrBadRequest, err)
	default:
		return Retryable(provider, h, err)
	}
}

// RateLimited wraps err as a rate limit with the wait the headers ask for
// (zero when they say nothing: the queue then uses its own cool-down) and
// what the headers say about the limits. A 429 is where the provider's
// view matters most: it tells the ledger how far off it was.
func RateLimited(provider string, h http.Header, err error) error {
	wait, _ := ratelimit.Wait(h, time.Now())
	return &llmqueue.RateLimitedError{
		RetryAfter: max(wait, 0),
		Err:        fmt.Errorf("%s: %w: %w", provider, providers.ErrRateLimited, err),
		Info:       ratelimit.Info(h),
	}
}

// Permanent wraps err as a permanent failure of the given kind.
func Permanent(provider string, kind, err error) error {
	return llmqueue.Permanent(fmt.Errorf("%s: %w: %w", provider, kind, err))
}

// Retryable wraps err as a transient failure; a retry-after-ms or
// Retry-After header in h, when present, becomes the least delay before the
// next attempt. The x-ratelimit-reset-* headers are ignored here: OpenAI
// sends them on every response, and they say when the budget refills, not
// when a failed call may be retried.
func Retryable(provider string, h http.Header, err error) error {
	var after time.Duration
	if h != nil {
		after, _ = ratelimit.RetryAfter(h, time.Now())
	}
	return llmqueue.Retryable(after, fmt.Errorf("%s: %w: %w", provider, providers.ErrUnavailable, err))
}

// Transport classifies an error that came with no HTTP response. jobCtx is
// the context the queue gave Process; callCtx is the per-call context derived
// from it. ok is false when err is none of the cases below, so the adapter
// can apply its own rules.
//
//   - jobCtx is done (the request was canceled, timed out or the processor
//     is shutting down): err is returned wrapped but unclassified, because
//     the queue owns that decision.
//   - callCtx hit the per-call timeout: Retryable.
//   - a network error, a truncated body or a body that is not the expected
//     JSON: Retryable.
func Transport(provider string, jobCtx, callCtx context.Context, err error) (classified error, ok bool) {
	if jobCtx.Err() != nil {
		return fmt.Errorf("%s: %w", provider, err), true
	}
	if callCtx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return Retryable(provider, nil, fmt.Errorf("per-call timeout: %w", err)), true
	}
	var (
		urlErr    *url.Error
		netErr    net.Error
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &urlErr), errors.As(err, &netErr),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		return Retryable(provider, nil, err), true
	}
	return nil, false
}
