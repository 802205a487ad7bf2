package providers

import "errors"

// Sentinel errors wrapped by every adapter, for callers that branch with
// errors.Is on why a request failed, whichever provider ran it.
var (
	// ErrAuth means the provider refused the credentials (HTTP 401 or 403,
	// AccessDeniedException). The request fails permanently.
	ErrAuth = errors.New("llmqueue/providers: authentication failed")
	// ErrQuota means the account is out of credit or over a billing quota
	// (OpenAI's insufficient_quota). Waiting does not help, so the request
	// fails permanently.
	ErrQuota = errors.New("llmqueue/providers: quota exhausted")
	// ErrBadRequest means the provider rejected the request itself (HTTP
	// 400, 404, 422, ValidationException, unknown model). The provider's
	// message is kept in the error text. The request fails permanently.
	ErrBadRequest = errors.New("llmqueue/providers: bad request")
	// ErrRateLimited means the provider throttled the call (HTTP 429,
	// ThrottlingException). The request is queued again after the wait.
	ErrRateLimited = errors.New("llmqueue/providers: rate limited")
	// ErrUnavailable means a transient failure: 5xx, 408, a per-call timeout
	// or a network error. The request is retried with backoff.
	ErrUnavailable = errors.New("llmqueue/providers: provider unavailable")
)
