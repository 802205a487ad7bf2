package deployconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// chatRequest is the part of an OpenAI chat-completions body that the
// other providers have an equivalent for.
type chatRequest struct {
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           int64           `json:"max_tokens"`
	MaxCompletionTokens int64           `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stop                json.RawMessage `json:"stop"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// defaultMaxTokens is the output cap given to an Anthropic body made from a
// chat request that sets none (Anthropic requires one).
const defaultMaxTokens = 1024

// rewritePayload makes payload the body provider takes for model; see
// Translate.
func rewritePayload(payload json.RawMessage, provider, model string) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil {
		return nil, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	m, _ := json.Marshal(model)
	switch provider {
	case OpenAI:
		obj["model"] = m
		return json.Marshal(obj)
	case Bedrock:
		if _, native := obj["modelId"]; native {
			obj["modelId"] = m
			return json.Marshal(obj)
		}
		return chatToBedrock(payload, model)
	case Anthropic:
		return chatToAnthropic(obj, m)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownProvider, provider)
}

// textOf is a chat message's content as text: a string, or the text parts
// of an array of content parts.
func textOf(content json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(content, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(content, &parts); err != nil {
		return "", errors.New("message content is neither a string nor content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("content part of type %q has no text equivalent", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// stopOf is the chat request's stop: a string or a list of them.
func stopOf(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("stop is neither a string nor a list of strings")
	}
	return many, nil
}

// split is a chat request's system prompt and its other messages as text.
func split(msgs []chatMessage) (system string, rest []map[string]string, err error) {
	var sys []string
	for i, m := range msgs {
		text, err := textOf(m.Content)
		if err != nil {
			return "", nil, fmt.Errorf("messages[%d]: %w", i, err)
		}
		switch m.Role {
		case "system", "developer":
			sys = append(sys, text)
		case "user", "assistant":
			rest = append(rest, map[string]string{"role": m.Role, "content": text})
		default:
			return "", nil, fmt.Errorf("messages[%d]: role %q has no equivalent", i, m.Role)
		}
	}
	return strings.Join(sys, "\n\n"), rest, nil
}

// chatToBedrock turns a chat request into a bedrock.Payload.
func chatToBedrock(payload json.RawMessage, model string) (json.RawMessage, error) {
	var req chatRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("chat request: %w", err)
	}
	system, msgs, err := split(req.Messages)
	if err != nil {
		return nil, err
	}
	stop, err := stopOf(req.Stop)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"modelId": model, "messages": msgs}
	if system != "" {
		out["system"] = system
	}
	if n := max(req.MaxTokens, req.MaxCompletionTokens); n > 0 {
		out["maxTokens"] = n
	}
	if req.Temperature != nil {
		out["temperature"] = *req.Temperature
	}
	if req.TopP != nil {
		out["topP"] = *req.TopP
	}
	if len(stop) > 0 {
		out["stopSequences"] = stop
	}
	return json.Marshal(out)
}

// openAIOnly are chat-request fields the Messages API does not take.
var openAIOnly = []string{"max_completion_tokens", "stop", "n", "frequency_penalty", "presence_penalty",
	"logprobs", "top_logprobs", "logit_bias", "seed", "response_format", "user", "store", "parallel_tool_calls",
	"stream_options", "service_tier", "reasoning_effort", "modalities"}

// chatToAnthropic makes obj an Anthropic Messages body for model m: a
// native body keeps everything but the model; a chat request's system
// messages become "system", its stop "stop_sequences", its output cap
// max_tokens, and fields Anthropic does not take are dropped.
func chatToAnthropic(obj map[string]json.RawMessage, m json.RawMessage) (json.RawMessage, error) {
	obj["model"] = m
	var msgs []chatMessage
	if raw, ok := obj["messages"]; ok {
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return nil, fmt.Errorf("messages: %w", err)
		}
	}
	hasSystem := false
	for _, msg := range msgs {
		if msg.Role == "system" || msg.Role == "developer" {
			hasSystem = true
		}
	}
	if hasSystem {
		system, rest, err := split(msgs)
		if err != nil {
			return nil, err
		}
		obj["system"], _ = json.Marshal(system)
		obj["messages"], _ = json.Marshal(rest)
	}
	if raw, ok := obj["stop"]; ok {
		stop, err := stopOf(raw)
		if err != nil {
			return nil, err
		}
		if len(stop) > 0 {
			obj["stop_sequences"], _ = json.Marshal(stop)
		}
	}
	if _, ok := obj["max_tokens"]; !ok {
		n := int64(defaultMaxTokens)
		if raw, ok := obj["max_completion_tokens"]; ok {
			if err := json.Unmarshal(raw, &n); err != nil {
				return nil, fmt.Errorf("max_completion_tokens: %w", err)
			}
		}
		obj["max_tokens"], _ = json.Marshal(n)
	}
	for _, k := range openAIOnly {
		delete(obj, k)
	}
	return json.Marshal(obj)
}
