// Package anthropic is a llmqueue.Processor for Anthropic's Messages API,
// built on github.com/anthropics/anthropic-sdk-go/v2.
//
// # Payload
//
// A request's payload is a Messages API request body, exactly what POST
// /v1/messages takes (the JSON of the SDK's anthropic.MessageNewParams):
// model, max_tokens, messages, system, tools, temperature, and so on.
// model, a positive max_tokens and at least one message are required;
// "stream": true is refused, because the queue needs the whole response.
// The payload is sent as it is, byte for byte, so fields this version of
// the SDK does not know still reach the API.
//
//	proc, err := anthropic.New(anthropic.WithAPIKey(os.Getenv("ANTHROPIC_API_KEY")))
//	id, err := qm.Add(ctx, llmqueue.NewRequest(sdk.MessageNewParams{
//		Model:     sdk.ModelClaudeHaiku4_5,
//		MaxTokens: 1024,
//		Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("Hi"))},
//	}))
//
// (sdk is github.com/anthropics/anthropic-sdk-go/v2.) The SDK's own retries
// are off: the queue owns retries, and it has to see every 429 to pause
// every worker of the namespace.
//
// # Result
//
// Output is the message as the API returned it (decode it into
// sdk.Message). Usage is the message's usage: input_tokens,
// output_tokens, cache_read_input_tokens and cache_creation_input_tokens.
// RateLimit is read from the anthropic-ratelimit-* headers: requests-*
// into LimitRequests, RemainingRequests and ResetRequests; tokens-* (the
// most restrictive token limit in effect) into the Tokens fields;
// input-tokens-* and output-tokens-* into the Input and Output fields.
// Reset times, RFC 3339 timestamps, become the time left until them. A
// remaining count the response does not give is -1, a limit 0.
//
// # Errors
//
// Failures map onto the queue's classes as package providers describes.
// The SDK's *sdk.Error stays in the chain for errors.As.
//
//	429 rate_limit_error                 -> llmqueue.RateLimitedError, wraps ErrRateLimited; RetryAfter from
//	                                        retry-after (else the reset of the exhausted limit), Info from
//	                                        the 429's anthropic-ratelimit-* headers
//	529 overloaded_error                 -> llmqueue.Retryable, wraps ErrUnavailable (Anthropic's capacity,
//	                                        not this key's budget: no namespace pause)
//	500, 502, 503, 504, 408, 409         -> llmqueue.Retryable, wraps ErrUnavailable
//	401, 403                             -> llmqueue.Permanent, wraps ErrAuth
//	400, 404, 413 (other 4xx)            -> llmqueue.Permanent, wraps ErrBadRequest, with the API's message
//	402, billing_error, spend limits,    -> llmqueue.Permanent, wraps ErrQuota
//	  400 "credit balance is too low"
//	per-call timeout (WithTimeout),      -> llmqueue.Retryable, wraps ErrUnavailable
//	  network errors, unreadable body
//	the job's context done               -> returned unclassified: the queue decides
//	invalid payload                      -> llmqueue.Permanent, wraps llmqueue.ErrInvalidPayload, nothing sent
//
// The spend limits are the 429s with error code
// contract_spend_limit_reached or enforced_spend_limit_reached, and the
// 402s: waiting minutes does not lift them.
//
// # How Anthropic counts, and the estimate
//
// Anthropic limits requests (RPM), input tokens (ITPM) and output tokens
// (OTPM) per minute, each on its own
// (https://docs.anthropic.com/en/api/rate-limits). Input tokens count when
// the call arrives, including cache writes (cache_creation_input_tokens);
// cache reads do not count against ITPM for current models. Output tokens
// are estimated from max_tokens when the call arrives and settled to the
// real output when it ends. A refused call costs nothing. The Processor
// declares that with llmqueue.AnthropicMeter (MeterFor), and its estimate
// (EstimateUsage) splits the same way:
//
//	input  = ceil(characters / 4) of the system prompt and the messages' text
//	output = max_tokens
//
// The characters counted are those of text blocks (and string content),
// the content of tool_result blocks, the input of tool_use blocks as JSON,
// and plain-text documents. Images, PDFs and tool definitions are not
// counted, so for such requests the heuristic is a lower bound; Claude's
// tokenizer also often makes more than one token of four characters. When
// the estimate has to be exact, WithTokenCounting asks Anthropic's
// count_tokens endpoint instead, at the cost of one network call per
// estimate (per QueueManager.Add), falling back to the heuristic when that
// call fails. A prompt cache hit makes either estimate too high, which
// only wastes budget.
//
// # Long requests
//
// The SDK refuses to send without streaming a request whose max_tokens may
// take longer than its default 10-minute timeout (above about 21,000
// tokens). Validate refuses such payloads unless the Processor has its own
// per-call timeout (WithTimeout), which the SDK then trusts.
package anthropic
