package llmqueue

import (
	"encoding/json"
	"math"
)

// A Meter says how a provider counts one call against its rate limits, so
// the queue's ledger can count it the same way. A provider charges a call
// when it arrives, from an estimate (OpenAI: the prompt's characters plus
// max_tokens; Bedrock: input plus max_tokens); some settle the charge when
// the call ends (Bedrock to input + output x burndown, Anthropic's output
// tokens to the real output), some never give anything back inside the
// window (OpenAI). A call the provider refused with a 429 usually costs
// nothing.
//
// The queue reserves Reserve(estimate) in the same atomic step that leases
// a request, books Settle(reserved, usage) in the same atomic step that
// records the outcome, and books Refused(reserved) when the provider
// answered 429. A refund the provider does not make would let the queue
// admit work the provider refuses; a charge the provider does not take
// only wastes budget. When in doubt a Meter should charge more.
//
// Implementations must be safe for concurrent use and must not panic.
// Built in: OpenAIMeter, BedrockMeter, AnthropicMeter and ExactMeter.
// A Processor declares its provider's meter by implementing Metered;
// Config.Meter overrides it for a namespace.
type Meter interface {
	// Reserve returns what the provider takes when a call with this
	// estimate arrives.
	Reserve(estimate Usage) Charge
	// Settle returns what the call costs in the end, given what Reserve
	// returned and the usage the provider reported.
	Settle(reserved Charge, used Usage) Charge
	// Refused returns what a call the provider refused (429) costs.
	Refused(reserved Charge) Charge
}

// Metered is implemented by a Processor (or an Estimator) that knows how
// its provider meters calls. MeterFor gets the call's payload because a
// provider may meter models differently (Bedrock's output burndown rate is
// per model). The queue uses it unless the QueueManager was built
// Config.Meter; it must not fail: for a payload it cannot read it returns
// the meter of the provider's most common case.
type Metered interface {
	MeterFor(payload json.RawMessage) Meter
}

// UsageEstimator is implemented by an Estimator that can split its
// estimate into input tokens and output tokens (the output allowance, for
// example max_tokens x n). Budgets with separate input and output limits
// (Anthropic's ITPM and OTPM) need the split; without it the whole
// estimate counts as input.
type UsageEstimator interface {
	EstimateUsage(payload json.RawMessage) (Usage, error)
}

// Charge is what one call costs against each token dimension of a Budget.
// A call always costs one request against RPM and RPD.
type Charge struct {
	// Tokens counts against TPM and TPD.
	Tokens int64 `json:"tokens"`
	// InputTokens counts against ITPM.
	InputTokens int64 `json:"input_tokens"`
	// OutputTokens counts against OTPM.
	OutputTokens int64 `json:"output_tokens"`
}

// MaxTokens bounds every token count the queue accepts or books: an
// estimate, a usage report or a charge. 1e12 tokens is far beyond any
// provider's limit and far below where a float64 stops counting exactly.
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

// OpenAIMeter meters like OpenAI (and Azure OpenAI): a call is charged when
// it arrives, its prompt estimated from its characters and its output from
// max_tokens x n (the estimator's job: see providers/openai), and OpenAI
// keeps that charge for the whole window however few tokens the reply
// used. Settle therefore only goes up, when the reported usage exceeds the
// reservation. A call refused with a 429 is not charged.
//
// OpenAI-compatible servers that enforce limits the same way (LiteLLM,
// many gateways) meter alike; a server whose limit you enforce yourself
// from real usage wants ExactMeter.
type OpenAIMeter struct{}

// Reserve returns the estimate's input + output.
func (OpenAIMeter) Reserve(est Usage) Charge { return reserveFor(est) }

// Settle never refunds: it returns the reservation, raised to the usage
// when the usage is larger.
func (OpenAIMeter) Settle(reserved Charge, used Usage) Charge {
	return reserved.atLeast(Charge{Tokens: used.Total(), InputTokens: used.InputTokens,
		OutputTokens: used.OutputTokens}.clamp())
}

// Refused returns zero: OpenAI does not charge a request it refused.
func (OpenAIMeter) Refused(Charge) Charge { return Charge{} }

// BedrockMeter meters like Amazon Bedrock's on-demand quotas: when a call
// starts, its input tokens plus max_tokens are taken from the tokens-per-
// minute quota; when it ends, the charge is settled to InputTokenCount +
// CacheWriteInputTokens + OutputTokenCount x the model's burndown rate
// (cache reads are given back). The burndown rate is 5 for Anthropic
// Claude 3.7 Sonnet and later Claude models on Bedrock and 1 for the
// others, so a long reply can settle well above its reservation.
//
// Source: "How tokens are counted in Amazon Bedrock",
// https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html
// (the three stages: reserve at start, adjust while running, settle at the
// end) as read on 2026-12-04.
//
// providers/bedrock picks the burndown rate from the model ID (callers
// extend its table with bedrock.WithBurndownRates).
type BedrockMeter struct {
	// OutputBurndown is how many quota tokens one output token consumes.
	// Zero or less means 1.
	OutputBurndown float64
}

// Reserve returns the estimate's input + output (max_tokens).
func (BedrockMeter) Reserve(est Usage) Charge { return reserveFor(est) }

// Settle returns input + cache writes + output x OutputBurndown, down or up.
func (m BedrockMeter) Settle(_ Charge, used Usage) Charge {
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

// AnthropicMeter meters like Anthropic's Messages API, which limits
// requests (RPM), input tokens (ITPM) and output tokens (OTPM) separately.
// Input tokens are counted when the call arrives: input_tokens plus
// cache_creation_input_tokens (cache reads do not count against ITPM for
// current models). Output tokens are estimated from max_tokens when the
// call arrives and settled to the real output when it ends. A call refused
// with a 429 is not charged.
//
// Source: Anthropic's rate limits documentation,
// https://docs.anthropic.com/en/api/rate-limits ("OTPM rate limits are
// estimated based on max_tokens at the beginning of each request and
// adjusted at the end of the request to reflect the actual number of output
// tokens used").
type AnthropicMeter struct{}

// Reserve returns the estimated input and output tokens.
func (AnthropicMeter) Reserve(est Usage) Charge { return reserveFor(est) }

// Settle returns input + cache writes and the real output.
func (AnthropicMeter) Settle(_ Charge, used Usage) Charge {
	in := addTokensSat(used.InputTokens, used.CacheCreationInputTokens)
	out := capTokens(used.OutputTokens)
	return Charge{Tokens: addTokensSat(in, out), InputTokens: in, OutputTokens: out}.clamp()
}

// Refused returns zero: Anthropic does not charge a request it refused.
func (AnthropicMeter) Refused(Charge) Charge { return Charge{} }

// ExactMeter reserves the estimate and settles to the usage the provider
// reported, down or up. It suits a self-hosted server whose limit you
// enforce yourself from real usage; against a provider that keeps what it
// charged at arrival (OpenAI) it admits work the provider refuses. A call
// refused with a 429 is released. It is the default when neither
// Config.Meter nor the Processor says otherwise.
type ExactMeter struct{}

// Reserve returns the estimate's input + output.
func (ExactMeter) Reserve(est Usage) Charge { return reserveFor(est) }

// Settle returns the reported usage.
func (ExactMeter) Settle(_ Charge, used Usage) Charge {
	return Charge{Tokens: used.Total(), InputTokens: used.InputTokens, OutputTokens: used.OutputTokens}.clamp()
}

// Refused returns zero.
func (ExactMeter) Refused(Charge) Charge { return Charge{} }
