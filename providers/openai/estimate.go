package openai

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/tiktoken"
)

// DefaultMaxTokens is the output allowance estimated for a request that sets
// neither max_completion_tokens nor max_tokens (WithDefaultMaxTokens
// changes it). OpenAI does not document what its limiter counts then; 1024
// covers a typical chat reply, so the charge at arrival seldom falls short
// of what the call uses, without holding the budget of a model's whole
// output limit for every call. Set max_completion_tokens on requests whose
// replies may be longer: then the estimate is exact.
const DefaultMaxTokens = 1024

// The chat-format overhead as the OpenAI cookbook's rate-limit estimate
// (num_tokens_consumed_from_request in api_request_parallel_processor.py)
// counts it. These are not the tokenizer's true overhead (3 per message,
// +1 for a name, +3 for the reply, as tiktoken.Estimator counts),
// but the cookbook's figure is the one written to match the rate limiter.
const (
	cookbookPerMessage = 4  // <im_start>{role/name}\n{content}<im_end>\n
	cookbookPerName    = -1 // a name replaces the role, which always costs one
	cookbookReplyPrime = 2  // <im_start>assistant
)

// charsPerToken is OpenAI's rule of thumb, and how its limiter estimates a
// prompt from its characters.
const charsPerToken = 4

// MeterFor returns llmqueue.OpenAIMeter for every payload: OpenAI charges
// the estimate when a call arrives and gives nothing back inside the
// window.
func (p *Processor) MeterFor(json.RawMessage) llmqueue.Meter { return llmqueue.OpenAIMeter{} }

// EstimateTokens returns EstimateUsage's input + output: what OpenAI counts
// the request as against its tokens-per-minute limit.
func (p *Processor) EstimateTokens(payload json.RawMessage) (int64, error) {
	u, err := p.EstimateUsage(payload)
	if err != nil {
		return 0, err
	}
	return min(u.InputTokens+u.OutputTokens, llmqueue.MaxTokens), nil
}

// EstimateUsage splits the estimate into the prompt (InputTokens) and the
// output allowance (OutputTokens); see the package doc for the formula.
// With WithEstimator it returns that estimator's split when it implements
// llmqueue.UsageEstimator, else its whole estimate as InputTokens.
func (p *Processor) EstimateUsage(payload json.RawMessage) (llmqueue.Usage, error) {
	if p.estimator != nil {
		return p.customUsage(payload)
	}
	// Estimate what is sent: go-openai drops the fields it does not know,
	// so they never reach the limiter.
	req, err := decodeRequest(payload)
	if err != nil {
		return llmqueue.Usage{}, err
	}
	cookbook, err := cookbookTokens(req.Model, req.Messages)
	if err != nil {
		return llmqueue.Usage{}, fmt.Errorf("openai: estimate tokens: %w", err)
	}
	return llmqueue.Usage{
		InputTokens:  min(max(cookbook, charTokens(req.Messages)), llmqueue.MaxTokens),
		OutputTokens: p.outputAllowance(req),
	}, nil
}

// customUsage asks the estimator given to WithEstimator.
func (p *Processor) customUsage(payload json.RawMessage) (llmqueue.Usage, error) {
	if ue, ok := p.estimator.(llmqueue.UsageEstimator); ok {
		u, err := ue.EstimateUsage(payload)
		if err != nil {
			return llmqueue.Usage{}, fmt.Errorf("openai: estimate tokens: %w", err)
		}
		u.InputTokens = min(max(u.InputTokens, 0), llmqueue.MaxTokens)
		u.OutputTokens = min(max(u.OutputTokens, 0), llmqueue.MaxTokens)
		return u, nil
	}
	n, err := p.estimator.EstimateTokens(payload)
	if err != nil {
		return llmqueue.Usage{}, fmt.Errorf("openai: estimate tokens: %w", err)
	}
	return llmqueue.Usage{InputTokens: min(max(n, 0), llmqueue.MaxTokens)}, nil
}

// cookbookTokens counts the prompt the way num_tokens_consumed_from_request
// does: 4 per message, the tokens of each of its string fields, -1 for a
// name, and 2 for the reply. A content array counts the text of its parts.
// The cookbook cannot count tool calls (it encodes every value as a
// string); their JSON is counted instead, which errs high.
func cookbookTokens(model string, msgs []goopenai.ChatCompletionMessage) (int64, error) {
	total := int64(cookbookReplyPrime)
	for _, m := range msgs {
		total += cookbookPerMessage
		if m.Name != "" {
			total += cookbookPerName
		}
		texts := []string{m.Role, m.Content, m.Refusal, m.Name, m.ReasoningContent, m.ToolCallID}
		for _, part := range m.MultiContent {
			texts = append(texts, part.Text)
		}
		if m.FunctionCall != nil {
			b, _ := json.Marshal(m.FunctionCall) // plain strings: cannot fail
			texts = append(texts, string(b))
		}
		if len(m.ToolCalls) > 0 {
			b, _ := json.Marshal(m.ToolCalls)
			texts = append(texts, string(b))
		}
		for _, s := range texts {
			n, err := tiktoken.CountTokens(model, s)
			if err != nil {
				return 0, err
			}
			total += int64(n)
		}
	}
	return total, nil
}

// charTokens is the prompt estimated from its characters, ceil(characters
// of the messages' content / 4): the rule OpenAI's limiter is documented
// to apply, and what the fake server in providers/providertest charges.
func charTokens(msgs []goopenai.ChatCompletionMessage) int64 {
	var chars int64
	for _, m := range msgs {
		chars += int64(utf8.RuneCountInString(m.Content))
		for _, part := range m.MultiContent {
			chars += int64(utf8.RuneCountInString(part.Text))
		}
	}
	return (chars + charsPerToken - 1) / charsPerToken
}

// outputAllowance is the completion budget OpenAI counts at arrival: the
// larger of max_completion_tokens and max_tokens (the default when neither
// is set), times n.
func (p *Processor) outputAllowance(req goopenai.ChatCompletionRequest) int64 {
	per := int64(max(req.MaxCompletionTokens, req.MaxTokens))
	if per <= 0 {
		per = p.defaultMaxTokens
	}
	n := int64(max(req.N, 1))
	if per > llmqueue.MaxTokens/n {
		return llmqueue.MaxTokens
	}
	return per * n
}
