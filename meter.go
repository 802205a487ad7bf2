package llmqueue

import (
	"encoding/json"
	"math"
)

// A Meter says how a provider counts a call against its rate limits, so the
// ledger counts it the same way. It must be safe for concurrent use.
type Meter interface {
	Reserve(estimate Usage) Charge             // taken when the call is leased
	Settle(reserved Charge, used Usage) Charge // what the call costs when it ends
	Refused(reserved Charge) Charge            // what a 429 costs
}

// Why a Meter: a provider charges a call when it
// arrives, from an estimate (OpenAI: the prompt's characters plus
// max_tokens; Bedrock: input plus max_tokens); some settle the charge when
// the call ends (Bedrock to input + output x burndown, Anthropic's output
// tokens to the real output), some never give anything back inside the
// window (OpenAI). A call refused with a 429 usually costs nothing. The
// queue reserves Reserve(estimate) in the same atomic step that leases a
// request and books Settle or Refused in the step that records the
// outcome. A refund the provider does not make would let the queue admit
// work the provider refuses; a charge it does not take only wastes budget:
// so when in doubt a Meter should charge more.

// Metered is implemented by a Processor or Estimator that knows its
// provider's Meter for a payload; Config.Meter overrides it. MeterFor must
// not fail: for a payload it cannot read it returns the common case.
type Metered interface {
	MeterFor(payload json.RawMessage) Meter
}

// UsageEstimator is an Estimator that splits its estimate into input and
// output tokens, which budgets with ITPM and OTPM limits need.
type UsageEstimator interface {
	EstimateUsage(payload json.RawMessage) (Usage, error)
}

// Charge is what one call costs against the Budget, besides one request
// against RPM and RPD.
type Charge struct {
	Tokens       int64 `json:"tokens"`        // against TPM and TPD
	InputTokens  int64 `json:"input_tokens"`  // against ITPM
	OutputTokens int64 `json:"output_tokens"` // against OTPM
}

// MaxTokens bounds every token count the queue accepts or books (1e12).
const MaxTokens int64 = 1_000_000_000_000

// clamp returns c with every count inside [0, MaxTokens].
func (c Charge) clamp() Charge {
	return Charge{Tokens: capTokens(c.Tokens), InputTokens: capTokens(c.InputTokens),
		OutputTokens: capTokens(c.OutputTokens)}
}

// atLeast returns the larger of c and o in each dimension.
func (c Charge) atLeast(o Charge) Charge {
	return Charge{Tokens: max(c.Tokens, o.Tokens), InputTokens: max(c.InputTokens, o.InputTokens),
		OutputTokens: max(c.OutputTokens, o.OutputTokens)}
}

// capTokens bounds n to [0, MaxTokens].
func capTokens(n int64) int64 { return min(max(n, 0), MaxTokens) }

// reserveFor is the usual arrival charge: the estimated input and output,
// and their sum.
func reserveFor(est Usage) Charge {
	return Charge{Tokens: addTokensSat(est.InputTokens, est.OutputTokens),
		InputTokens: est.InputTokens, OutputTokens: est.OutputTokens}.clamp()
}

// OpenAIMeter meters like OpenAI: the arrival charge (prompt + max_tokens)
// is kept for the whole window, never refunded; a 429 costs nothing.
type OpenAIMeter struct{}

// Reserve returns the estimate's input + output.
func (OpenAIMeter) Reserve(est Usage) Charge { return reserveFor(est) }

// Settle never refunds: the reservation, raised to a larger usage.
func (OpenAIMeter) Settle(reserved Charge, used Usage) Charge {
	// OpenAI (and Azure OpenAI, LiteLLM and most gateways) charge a call when
	// it arrives, its prompt estimated from its characters and its output
	// from max_tokens x n, and keep that charge for the window however few
	// tokens the reply used. A server whose limit you enforce yourself from
	// real usage wants ExactMeter.
	return reserved.atLeast(Charge{Tokens: used.Total(), InputTokens: used.InputTokens,
		OutputTokens: used.OutputTokens}.clamp())
}

// Refused returns zero: OpenAI does not charge a request it refused.
func (OpenAIMeter) Refused(Charge) Charge { return Charge{} }

// BedrockMeter meters like Amazon Bedrock: input + max_tokens at the start,
// settled to input + cache writes + output x OutputBurndown at the end.
type BedrockMeter struct {
	OutputBurndown float64 // quota tokens per output token; 0 means 1
}

// Reserve returns the estimate's input + output (max_tokens).
func (BedrockMeter) Reserve(est Usage) Charge { return reserveFor(est) }

// Settle returns input + cache writes + output x OutputBurndown, down or up.
func (m BedrockMeter) Settle(_ Charge, used Usage) Charge {
	// "How tokens are counted in Amazon Bedrock",
	// https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html
	// (reserve at start, adjust while running, settle at the end; read
	// 2026-12-04): the burndown rate is 5 for Claude 3.7 Sonnet and later
	// Claude models and 1 for the others, so a long reply can settle above
	// its reservation; cache reads are given back. providers/bedrock picks
	// the rate from the model ID.
	rate := m.OutputBurndown
	if !(rate > 0) || math.IsInf(rate, 0) {
		rate = 1
	}
	in := addTokensSat(used.InputTokens, used.CacheCreationInputTokens)
	out := capTokens(clampTokens(float64(capTokens(used.OutputTokens)) * rate))
	return Charge{Tokens: addTokensSat(in, out), InputTokens: in, OutputTokens: out}.clamp()
}

// Refused returns zero: a throttled call never started.
func (BedrockMeter) Refused(Charge) Charge { return Charge{} }

// AnthropicMeter meters like Anthropic: input + cache writes at arrival
// (ITPM), output from max_tokens settled to the real output (OTPM).
type AnthropicMeter struct{}

// Reserve returns the estimated input and output tokens.
func (AnthropicMeter) Reserve(est Usage) Charge { return reserveFor(est) }

// Settle returns input + cache writes and the real output.
func (AnthropicMeter) Settle(_ Charge, used Usage) Charge {
	// https://docs.anthropic.com/en/api/rate-limits: "OTPM rate limits are
	// estimated based on max_tokens at the beginning of each request and
	// adjusted at the end of the request to reflect the actual number of
	// output tokens used"; cache reads do not count against ITPM for current
	// models, and a refused call is not charged.
	in := addTokensSat(used.InputTokens, used.CacheCreationInputTokens)
	out := capTokens(used.OutputTokens)
	return Charge{Tokens: addTokensSat(in, out), InputTokens: in, OutputTokens: out}.clamp()
}

// Refused returns zero: Anthropic does not charge a request it refused.
func (AnthropicMeter) Refused(Charge) Charge { return Charge{} }

// ExactMeter settles to the reported usage, down or up: for a server whose
// limit you enforce yourself. It is the default.
type ExactMeter struct{}

// Reserve returns the estimate's input + output.
func (ExactMeter) Reserve(est Usage) Charge { return reserveFor(est) }

// Settle returns the reported usage.
func (ExactMeter) Settle(_ Charge, used Usage) Charge {
	return Charge{Tokens: used.Total(), InputTokens: used.InputTokens, OutputTokens: used.OutputTokens}.clamp()
}

// Refused returns zero.
func (ExactMeter) Refused(Charge) Charge { return Charge{} }
