package anthropic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/shared"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers"
	"github.com/llmqueue/llmqueue/providers/internal/errmap"
	"github.com/llmqueue/llmqueue/providers/internal/ratelimit"
)

// statusOverloaded is Anthropic's own status for overloaded_error.
const statusOverloaded = 529

// quotaCodes are the error codes of an account that is out of money or
// over a spend limit: waiting minutes does not help, whatever the status
// (429 for the spend limits).
var quotaCodes = map[anthropic.ErrorCode]bool{
	anthropic.ErrorCodeContractSpendLimitReached:            true,
	anthropic.ErrorCodeEnforcedSpendLimitReached:            true,
	anthropic.ErrorCodeLinkedOrganizationSpendLimitReached:  true,
	anthropic.ErrorCodeLinkedOrganizationBillingUnavailable: true,
}

// lowCredit is how the API words a 400 for an account without credit. It
// has no error type or code of its own, so the message is the only sign.
const lowCredit = "credit balance is too low"

// classify maps a Messages.New error to the queue's error classes. resp is
// the response the SDK recorded (nil when there was none).
func classify(jobCtx, callCtx context.Context, resp *http.Response, err error) error {
	var apiErr *anthropic.Error
	if errors.As(err, &apiErr) && apiErr.StatusCode > 0 {
		return classifyAPI(apiErr)
	}
	if classified, ok := errmap.Transport(providerName, jobCtx, callCtx, err); ok {
		return classified
	}
	var h http.Header
	if resp != nil {
		h = resp.Header
	}
	// Unknown (for example credentials that could not be resolved): retry
	// it, the request's retry limit bounds the cost.
	return errmap.Retryable(providerName, h, err)
}

// classifyAPI maps an error response by its status, error type and code.
func classifyAPI(apiErr *anthropic.Error) error {
	var h http.Header
	if apiErr.Response != nil {
		h = apiErr.Response.Header
	}
	err := &apiError{apiErr}
	switch {
	case isQuota(apiErr):
		return errmap.Permanent(providerName, providers.ErrQuota, err)
	case apiErr.StatusCode == http.StatusTooManyRequests:
		return rateLimited(h, err)
	case apiErr.StatusCode == statusOverloaded || apiErr.Type() == shared.ErrorTypeOverloadedError:
		// Overloaded is Anthropic's capacity, not this key's budget: retry
		// this request with backoff instead of pausing the namespace.
		return errmap.Retryable(providerName, h, err)
	}
	return errmap.Status(providerName, apiErr.StatusCode, h, err)
}

// isQuota reports whether the error means the account cannot pay.
func isQuota(apiErr *anthropic.Error) bool {
	return apiErr.StatusCode == http.StatusPaymentRequired ||
		apiErr.Type() == shared.ErrorTypeBillingError ||
		quotaCodes[apiErr.ErrorCode()] ||
		(apiErr.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(apiErr.Message), lowCredit))
}

// rateLimited builds the 429's error: the wait from retry-after (or the
// reset of the exhausted limit) and what the anthropic-ratelimit-* headers
// say, so the queue can book the provider's view of the window.
func rateLimited(h http.Header, err error) error {
	now := time.Now()
	wait, _ := ratelimit.AnthropicWait(h, now)
	return &llmqueue.RateLimitedError{
		RetryAfter: wait,
		Err:        fmt.Errorf("%s: %w: %w", providerName, providers.ErrRateLimited, err),
		Info:       ratelimit.AnthropicInfo(h, now),
	}
}

// apiError shows an API error in the API's own words, "429
// rate_limit_error: <message> (request-id req_...)", instead of the SDK's
// text, which repeats the URL and the whole body. It unwraps to the SDK's
// *anthropic.Error.
type apiError struct{ err *anthropic.Error }

func (e *apiError) Error() string {
	if e.err.Message == "" {
		// Not Anthropic's JSON (a proxy's HTML page): the SDK's text
		// carries the body.
		return e.err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.err.StatusCode)
	if t := e.err.Type(); t != "" {
		fmt.Fprintf(&b, " %s", t)
	}
	fmt.Fprintf(&b, ": %s", e.err.Message)
	if e.err.RequestID != "" {
		fmt.Fprintf(&b, " (request-id %s)", e.err.RequestID)
	}
	return b.String()
}

func (e *apiError) Unwrap() error { return e.err }
