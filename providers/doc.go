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
//   - providers/anthropic: the Messages API on
//     github.com/anthropics/anthropic-sdk-go/v2.
//   - providers/providertest: fake servers that speak the three wire formats
//     and meter calls the way each provider does, plus the conformance
//     suite every adapter runs.
//
// Each adapter declares how its provider meters calls (llmqueue.Metered:
// OpenAIMeter, BedrockMeter with the model's burndown rate,
// AnthropicMeter) and estimates what the provider's limiter counts, so the
// queue's ledger counts a call exactly as the provider does.
//
// Every adapter maps the provider's failures onto the queue's error classes
// the same way:
//
//	rate limit (HTTP 429, ThrottlingException)  -> llmqueue.RateLimited, wait and header snapshot from the headers
//	overloaded (Anthropic 529)                  -> llmqueue.Retryable: says nothing about your budget
//	auth (401, 403, AccessDeniedException)      -> llmqueue.Permanent, wraps ErrAuth
//	billing (OpenAI insufficient_quota,
//	Anthropic billing_error, low credit)        -> llmqueue.Permanent, wraps ErrQuota
//	bad request (400, 404, 422, Validation...)  -> llmqueue.Permanent, wraps ErrBadRequest
//	5xx, 408, timeouts, network errors          -> llmqueue.Retryable, wraps ErrUnavailable
//
// The SDK's own error stays in the chain, so errors.As(err, &apiErr) with the
// SDK's error type still works on what the processor returns.
package providers
