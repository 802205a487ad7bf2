// Package providers holds what the provider adapters share: the sentinel
// errors a caller branches on, whichever provider produced them.
//
// The adapters themselves live in the sub-packages:
//
//   - providers/openai: chat completions on github.com/sashabaranov/go-openai
//     (OpenAI, Azure OpenAI, and any OpenAI-compatible server: vLLM, Ollama,
//     LiteLLM).
//   - providers/bedrock: the Converse API on
//     github.com/aws/aws-sdk-go-v2/service/bedrockruntime.
//   - providers/providertest: fake servers that speak both wire formats and
//     enforce a TPM limit, plus the conformance suite every adapter runs.
//
// Every adapter maps the provider's failures onto the queue's error classes
// the same way:
//
//	rate limit (HTTP 429, ThrottlingException)  -> llmqueue.RateLimited, wait from the headers
//	auth (401, 403, AccessDeniedException)      -> llmqueue.Permanent, wraps ErrAuth
//	billing (OpenAI insufficient_quota)         -> llmqueue.Permanent, wraps ErrQuota
//	bad request (400, 404, 422, Validation...)  -> llmqueue.Permanent, wraps ErrBadRequest
//	5xx, 408, timeouts, network errors          -> llmqueue.Retryable, wraps ErrUnavailable
//
// The SDK's own error stays in the chain, so errors.As(err, &apiErr) with the
// SDK's error type still works on what the processor returns.
package providers
