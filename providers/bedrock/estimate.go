package bedrock

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/internal/burndown"
)

// DefaultMaxTokens is the output cap sent, and estimated, when a payload
// sets none. Bedrock itself would reserve the model's whole output limit
// then (64,000 tokens for Claude Sonnet), so the adapter always sends a cap
// and the queue reserves exactly what Bedrock does. 1024 covers a typical
// reply, and every Bedrock text model accepts it, while some refuse a cap
// above their own limit of 2048 or 4096. Raise it with WithDefaultMaxTokens
// when replies are longer.
const DefaultMaxTokens = 1024

// charsPerToken is the rule of thumb llmqueue.HeuristicEstimator and the
// fake Bedrock server in providers/providertest use.
const charsPerToken = 4

// unknownModelBurndown is the output burndown assumed for a payload whose
// model cannot be read: the highest rate in the burndown table (Claude 3.7
// Sonnet and later), because a Meter in doubt should charge more.
const unknownModelBurndown = 5.0

// MeterFor returns llmqueue.BedrockMeter with the output burndown rate of
// the payload's modelId, from the burndown table extended by
// WithBurndownRates. For a payload whose modelId cannot be read it assumes
// the highest rate known (5, or a higher one given to WithBurndownRates):
// such a payload is never sent, so the rate only errs on the safe side.
func (p *Processor) MeterFor(payload json.RawMessage) llmqueue.Meter {
	// Only the model matters here; the rest of the payload may be invalid.
	var pl struct {
		ModelID string `json:"modelId"`
	}
	if json.Unmarshal(payload, &pl) != nil || pl.ModelID == "" {
		return llmqueue.BedrockMeter{OutputBurndown: p.maxBurndown}
	}
	return llmqueue.BedrockMeter{OutputBurndown: burndown.Rate(pl.ModelID, p.burndown)}
}

// EstimateTokens returns EstimateUsage's input + output: what Bedrock
// reserves from the tokens-per-minute quota when the call starts.
func (p *Processor) EstimateTokens(payload json.RawMessage) (int64, error) {
	u, err := p.EstimateUsage(payload)
	if err != nil {
		return 0, err
	}
	return min(u.InputTokens+u.OutputTokens, llmqueue.MaxTokens), nil
}

// EstimateUsage splits the estimate into input and output. Input is the
// payload's estimatedTokens when positive, else ceil(characters of the
// system prompt and the messages' text / 4); output is the maxTokens that
// will be sent (the payload's, or the default).
func (p *Processor) EstimateUsage(payload json.RawMessage) (llmqueue.Usage, error) {
	pl, err := DecodePayload(payload)
	if err != nil {
		return llmqueue.Usage{}, err
	}
	in := pl.EstimatedTokens
	if in <= 0 {
		in = charTokens(pl)
	}
	return llmqueue.Usage{
		InputTokens:  min(in, llmqueue.MaxTokens),
		OutputTokens: int64(p.maxTokensOf(pl)),
	}, nil
}

// charTokens is ceil(characters of the system prompt and messages / 4).
func charTokens(pl *Payload) int64 {
	chars := int64(utf8.RuneCountInString(pl.System))
	for _, m := range pl.Messages {
		for _, b := range m.Content {
			chars += int64(utf8.RuneCountInString(b.Text))
		}
	}
	return (chars + charsPerToken - 1) / charsPerToken
}

// maxTokensOf is the maxTokens sent for pl. Without one Bedrock reserves the
// model's maximum output (up to 64K for Claude Sonnet) at the start of the
// call: "How tokens are counted in Amazon Bedrock",
// https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html,
// and the AWS re:Post article "TPM/RPM quota monitoring dashboard for
// Amazon Bedrock" (https://repost.aws/articles/ARfUsSkaWeSLiWZbv0OVSG1Q).
// Sending the default makes that reservation the one the queue estimated.
func (p *Processor) maxTokensOf(pl *Payload) int32 {
	if pl.MaxTokens > 0 {
		return pl.MaxTokens
	}
	return p.maxTokens
}
