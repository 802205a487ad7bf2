// Package providertest holds fake LLM servers for tests and examples, and the
// conformance suite every provider adapter runs.
//
// NewOpenAIServer speaks OpenAI chat completions (JSON, real error bodies,
// x-ratelimit-* headers); NewBedrockServer speaks the Bedrock Converse REST
// JSON protocol (SigV4-signed requests, X-Amzn-ErrorType exceptions). Both
// enforce a token-per-minute and request-per-minute limit over a sliding
// window, the way the providers do: a request is charged at arrival as its
// prompt estimate (characters / 4) plus its output budget (max tokens), and a
// request that does not fit is refused with the provider's 429. The window is
// configurable so tests can use a second or two instead of a minute.
//
// Each server counts what it saw (Stats) and can be told to fail the next
// requests in a chosen way (Inject), so a test can check every error class
// through the adapter's real SDK client.
//
// The servers listen on loopback only and need no network. They are safe for
// concurrent use.
package providertest
