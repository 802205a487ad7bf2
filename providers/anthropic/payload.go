package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/llmqueue/llmqueue"
)

// request is a payload that passed the checks: the SDK's params, for what
// the SDK reads before it sends (model, max_tokens, thinking), and the
// payload itself, which is what is sent.
type request struct {
	params anthropic.MessageNewParams
	body   json.RawMessage
	// fields are the payload's top-level fields, for the estimate.
	fields map[string]json.RawMessage
}

// decode checks a payload for this processor: its shape (decodeRequest),
// then whether the SDK would send it without streaming under the
// processor's per-call timeout. Every error wraps llmqueue.ErrInvalidPayload.
func (p *Processor) decode(payload json.RawMessage) (*request, error) {
	req, err := decodeRequest(payload)
	if err != nil {
		return nil, err
	}
	// The SDK refuses, before sending, a non-streaming call whose
	// max_tokens may need more than its default 10-minute timeout; a
	// timeout of our own lifts that. Asking the SDK's own function keeps
	// the rule in one place.
	if _, err := anthropic.CalculateNonStreamingTimeout(int(req.params.MaxTokens), req.params.Model, p.timeoutOptions()); err != nil {
		return nil, fmt.Errorf("%s: %w: max_tokens %d: %w; set WithTimeout to send it without streaming",
			providerName, llmqueue.ErrInvalidPayload, req.params.MaxTokens, err)
	}
	return req, nil
}

// timeoutOptions are the SDK options that carry the per-call timeout.
func (p *Processor) timeoutOptions() []option.RequestOption {
	if p.timeout <= 0 {
		return nil
	}
	return []option.RequestOption{option.WithRequestTimeout(p.timeout)}
}

// decodeRequest checks that payload is a Messages API request body the
// queue can send and decodes it. Every error wraps llmqueue.ErrInvalidPayload.
//
// The checks are strict because the SDK's decoder is not: it reads a
// message with an unknown role as no message, a content array holding one
// block it does not know as no content, "10" as 10 and 1e30 as a negative
// number, all without an error.
func decodeRequest(payload json.RawMessage) (*request, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", providerName, llmqueue.ErrInvalidPayload, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil, invalid("empty payload")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return nil, fmt.Errorf("%s: %w: decode Messages API request: %w", providerName, llmqueue.ErrInvalidPayload, err)
	}
	if fields == nil {
		return nil, invalid("payload is null, not a Messages API request")
	}
	if model, ok := jsonString(fields["model"]); !ok || model == "" {
		return nil, invalid("model is required and must be a string")
	}
	maxTokens, ok := jsonInt(fields["max_tokens"])
	if !ok || maxTokens <= 0 || maxTokens > llmqueue.MaxTokens {
		return nil, invalid("max_tokens is required and must be a positive integer")
	}
	if err := checkMessages(fields["messages"]); err != "" {
		return nil, invalid("%s", err)
	}
	switch s := string(bytes.TrimSpace(fields["stream"])); s {
	case "", "null", "false":
	case "true":
		return nil, invalid("stream is not supported; the queue needs the whole response")
	default:
		return nil, invalid("stream must be a boolean")
	}
	if raw, ok := fields["system"]; ok && !isContent(raw) && !isNull(raw) {
		return nil, invalid("system must be a string or an array of text blocks")
	}
	req := &request{body: payload, fields: fields}
	if err := json.Unmarshal(payload, &req.params); err != nil {
		return nil, fmt.Errorf("%s: %w: decode Messages API request: %w", providerName, llmqueue.ErrInvalidPayload, err)
	}
	return req, nil
}

// checkMessages returns what is wrong with the messages field, or "".
// Roles and block types are left to the API, which knows the current ones.
func checkMessages(raw json.RawMessage) string {
	var msgs []json.RawMessage
	if json.Unmarshal(raw, &msgs) != nil || len(msgs) == 0 {
		return "messages is required and must be a non-empty array"
	}
	for i, m := range msgs {
		var msg map[string]json.RawMessage
		if json.Unmarshal(m, &msg) != nil || msg == nil {
			return fmt.Sprintf("messages[%d] must be an object", i)
		}
		if role, ok := jsonString(msg["role"]); !ok || role == "" {
			return fmt.Sprintf("messages[%d].role is required and must be a string", i)
		}
		if !isContent(msg["content"]) {
			return fmt.Sprintf("messages[%d].content must be a string or an array of content blocks", i)
		}
	}
	return ""
}

// isContent reports whether raw is a string or an array of objects, the
// two forms of Anthropic content.
func isContent(raw json.RawMessage) bool {
	if _, ok := jsonString(raw); ok {
		return true
	}
	var blocks []map[string]json.RawMessage
	if json.Unmarshal(raw, &blocks) != nil || blocks == nil {
		return false
	}
	for _, b := range blocks {
		if b == nil {
			return false
		}
	}
	return true
}

// jsonString decodes raw when it is a JSON string (not null).
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// jsonInt decodes raw when it is a JSON integer that fits in an int64;
// fractions, exponents, strings and null are refused.
func jsonInt(raw json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	return n, err == nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
