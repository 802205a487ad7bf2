// Package providertest holds fake LLM servers for tests and examples, and the
// conformance suite every provider adapter runs.
//
// NewOpenAIServer speaks OpenAI chat completions (JSON, real error bodies,
// x-ratelimit-* headers); NewBedrockServer speaks the Bedrock Converse REST
// JSON protocol (SigV4-signed requests, X-Amzn-ErrorType exceptions);
// NewAnthropicServer speaks the Anthropic Messages API (anthropic-ratelimit-*
// headers, retry-after on 429s, Anthropic's error bodies).
//
// # Metering
//
// Each server enforces its Limits over a sliding window, metering a call
// exactly the way its provider documents, because llmqueue promises to run
// at a provider's limit without a 429 and only an exact fake can test that.
// A call is admitted when it arrives only if every limited dimension
// (combined tokens TPM, input tokens ITPM, output tokens OTPM, requests RPM)
// has room for its arrival charge; it then stays in the window for exactly
// Window after its arrival, and a refused call costs nothing. Prompts count
// ceil(characters / 4) tokens.
//
//   - OpenAI charges prompt + max_tokens x n at arrival and keeps that
//     charge however little the reply used.
//   - Bedrock reserves input + maxTokens at arrival and settles to input +
//     output x the model's output burndown rate when the reply ends, which
//     can be more than it reserved.
//   - Anthropic charges input (cache reads excluded) against ITPM at
//     arrival for good, and max_tokens against OTPM, settled to the real
//     output when the reply ends.
//
// OutputFraction makes replies shorter than their allowance, so a test can
// see the difference between those rules. The window is configurable so
// tests can use a second or two instead of a minute.
//
// # Observing
//
// Each server counts what it saw, including the most each dimension ever
// held (Stats), and records every call it accepted with its final charge
// (Calls); BusiestWindow and Utilization turn that record into how close to
// the limit the traffic ran. Inject makes the next requests fail in a
// chosen way, so a test can check every error class through the adapter's
// real SDK client.
//
// The servers listen on loopback only and need no network. They are safe for
// concurrent use.
package providertest
