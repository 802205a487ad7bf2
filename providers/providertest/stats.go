package providertest

// Stats counts what a fake server saw. Requests counts every request that
// reached a handler; the others split it by outcome.
type Stats struct {
	// Requests is every request received.
	Requests int64
	// Completed is the requests answered with a completion.
	Completed int64
	// RateLimited is the 429s sent because a limit was reached.
	RateLimited int64
	// Injected is the requests failed on purpose by Inject.
	Injected int64
	// Rejected is the other refusals: bad signature or key, bad body.
	Rejected int64
	// CountTokens is the Anthropic count_tokens requests received; they
	// are not in Requests and no limit meters them.
	CountTokens int64
	// TokensCharged is the combined tokens charged to the window in total,
	// after every settle.
	TokensCharged int64
	// PeakWindowTokens is the most combined tokens the window ever held.
	// With a TPM limit no arrival takes it over TPM, but a settle-up can
	// (Bedrock's output burndown).
	PeakWindowTokens int64
	// PeakWindowInputTokens is the most input tokens the window ever held.
	PeakWindowInputTokens int64
	// PeakWindowOutputTokens is the most output tokens the window ever
	// held, as the server meters them (Bedrock: after burndown).
	PeakWindowOutputTokens int64
	// PeakWindowRequests is the most requests the window ever held.
	PeakWindowRequests int64
}
