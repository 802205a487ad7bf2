package bedrock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/llmqueue/llmqueue"
)

// Payload is the JSON a queued Bedrock request carries. It is a small,
// text-only view of the Converse API:
//
//	{
//	  "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
//	  "system": "You are terse.",
//	  "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
//	  "maxTokens": 200,
//	  "temperature": 0.2
//	}
//
// A message's content may also be a plain string ("content": "Hi"). Unknown
// fields are refused, so a typo fails at Add rather than being dropped.
type Payload struct {
	// ModelID is the model or inference profile ID or ARN. Required.
	ModelID string `json:"modelId"`
	// System is the system prompt, optional.
	System string `json:"system,omitempty"`
	// Messages is the conversation, at least one message, roles "user" and
	// "assistant".
	Messages []Message `json:"messages"`
	// MaxTokens caps the output. When zero the processor sends its default
	// (WithDefaultMaxTokens), so the estimate and Bedrock's reservation of
	// input + max tokens agree.
	MaxTokens int32 `json:"maxTokens,omitempty"`
	// Temperature is the sampling temperature, sent when set.
	Temperature *float32 `json:"temperature,omitempty"`
	// TopP is the nucleus-sampling cut-off, sent when set.
	TopP *float32 `json:"topP,omitempty"`
	// StopSequences end the reply when the model writes one of them.
	StopSequences []string `json:"stopSequences,omitempty"`
	// EstimatedTokens, when positive, is the input-token estimate used
	// instead of the character heuristic (for example a count from
	// Bedrock's CountTokens API). The output estimate is still maxTokens.
	EstimatedTokens int64 `json:"estimatedTokens,omitempty"`
}

// Message is one turn of the conversation.
type Message struct {
	// Role is "user" or "assistant".
	Role string `json:"role"`
	// Content is the message's text blocks.
	Content Content `json:"content"`
}

// Content is a message's content blocks. It decodes from an array of blocks
// or from a plain string (one text block).
type Content []ContentBlock

// ContentBlock is one text block.
type ContentBlock struct {
	// Text is the block's text.
	Text string `json:"text"`
}

// UnmarshalJSON accepts a string or an array of {"text": …} blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = Content{{Text: s}}
		return nil
	}
	var blocks []ContentBlock
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&blocks); err != nil {
		return fmt.Errorf("content must be a string or an array of {\"text\": ...} blocks: %w", err)
	}
	*c = blocks
	return nil
}

// Output is the Result.Output of a completed Bedrock request.
type Output struct {
	// Text is the model's reply: its text blocks joined.
	Text string `json:"text"`
	// StopReason is why the model stopped (end_turn, max_tokens, ...).
	StopReason string `json:"stopReason"`
	// Usage is the token usage Converse reported.
	Usage OutputUsage `json:"usage"`
}

// OutputUsage is Converse's token usage, as Bedrock reported it.
type OutputUsage struct {
	// InputTokens is the prompt tokens the model read, cached ones excluded:
	// with prompt caching Bedrock reports inputTokens, cacheReadInputTokens
	// and cacheWriteInputTokens as separate parts of the input.
	InputTokens int64 `json:"inputTokens"`
	// OutputTokens is the tokens the model wrote.
	OutputTokens int64 `json:"outputTokens"`
	// TotalTokens is their sum, as Bedrock reported it.
	TotalTokens int64 `json:"totalTokens"`
	// CacheReadInputTokens is the prompt tokens read from the prompt cache.
	CacheReadInputTokens int64 `json:"cacheReadInputTokens,omitempty"`
	// CacheWriteInputTokens is the prompt tokens written to the prompt cache.
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens,omitempty"`
}

// usage maps Converse's usage onto the queue's. Bedrock's inputTokens
// already excludes the cache reads and writes: the prompt is inputTokens +
// cacheReadInputTokens + cacheWriteInputTokens (see the prompt-caching
// guide, https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html),
// and the quota's settle formula, InputTokenCount + CacheWriteInputTokens +
// OutputTokenCount x burndown (quotas-token-burndown.html), would count
// cache writes twice otherwise. That is what llmqueue.Usage.InputTokens
// means, so each count maps as is and BedrockMeter settles it right.
func (u OutputUsage) usage() llmqueue.Usage {
	return llmqueue.Usage{
		InputTokens:              u.InputTokens,
		OutputTokens:             u.OutputTokens,
		CacheReadInputTokens:     u.CacheReadInputTokens,
		CacheCreationInputTokens: u.CacheWriteInputTokens,
	}
}

// DecodePayload decodes and checks a payload. Every error wraps
// llmqueue.ErrInvalidPayload.
func DecodePayload(payload json.RawMessage) (*Payload, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("bedrock: %w: %s", llmqueue.ErrInvalidPayload, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil, invalid("empty payload")
	}
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("bedrock: %w: decode payload: %w", llmqueue.ErrInvalidPayload, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("trailing data after the payload")
	}
	switch {
	case p.ModelID == "":
		return nil, invalid("modelId is required")
	case len(p.Messages) == 0:
		return nil, invalid("messages must not be empty")
	case p.MaxTokens < 0:
		return nil, invalid("maxTokens must not be negative")
	case p.EstimatedTokens < 0:
		return nil, invalid("estimatedTokens must not be negative")
	}
	for i, m := range p.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, invalid("messages[%d].role must be \"user\" or \"assistant\"", i)
		}
		if len(m.Content) == 0 {
			return nil, invalid("messages[%d].content must not be empty", i)
		}
		for j, b := range m.Content {
			if b.Text == "" {
				return nil, invalid("messages[%d].content[%d].text must not be empty", i, j)
			}
		}
	}
	return &p, nil
}
