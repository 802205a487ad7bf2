// Package tiktoken counts the tokens of OpenAI requests exactly, with
// OpenAI's BPE vocabularies (github.com/tiktoken-go/tokenizer, embedded, no
// network). It lives apart from package llmqueue because the vocabularies
// add about 12 MB to every binary that links them: a program that imports
// only llmqueue does not carry them, and one that wants exact OpenAI counts
// imports this package and gives the queue an Estimator:
//
//	qm, err := llmqueue.NewQueueManager(rdb,
//		&llmqueue.Config{Estimator: tiktoken.NewEstimator()})
//
// Estimator reads a whole request payload (messages, prompt or input, tools,
// and the output budget, as llmqueue.HeuristicEstimator does); CountTokens
// counts one string. Models served by other providers tokenize differently:
// use llmqueue.HeuristicEstimator, or the provider adapter's estimate, for
// them.
package tiktoken

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tiktoken-go/tokenizer"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/reqjson"
)

// Compile-time checks: an Estimator is meant to be passed wherever the queue
// wants an llmqueue.Estimator, by value or by pointer.
var (
	_ llmqueue.Estimator      = Estimator{}
	_ llmqueue.Estimator      = (*Estimator)(nil)
	_ llmqueue.UsageEstimator = Estimator{}
	_ llmqueue.UsageEstimator = (*Estimator)(nil)
)

// Estimator counts the tokens of an OpenAI chat-completions payload
// exactly with OpenAI's BPE vocabularies (github.com/tiktoken-go/tokenizer,
// embedded, no network), the way OpenAI's cookbook num_tokens_from_messages
// does:
//
//	3 per message
//	+ the tokens of every string field of each message (role, content,
//	  name, tool_call_id, ...), + 1 more when "name" is present
//	+ 3 for the priming of the assistant's reply
//
// A content array counts the "text" of its parts; image, audio and file
// parts count nothing, so the result is a lower bound for multimodal
// requests. Other non-string message fields (tool_calls, function_call) and
// the request's "tools" and "functions" count as the tokens of their compact
// JSON. That is an approximation: OpenAI renders tool definitions into its
// own compact schema syntax, which usually takes somewhat fewer tokens than
// the JSON, so the estimate errs high rather than low.
//
// The output budget is then added, because OpenAI counts a request against
// its tokens-per-minute limit as prompt tokens plus max_tokens (times n):
// the largest of "max_completion_tokens", "max_tokens" and
// "max_output_tokens" (and the Bedrock fields llmqueue.HeuristicEstimator
// reads), or DefaultMaxTokens when none is set, counted once and never
// scaled up.
//
// A payload without "messages" counts its "prompt" or "input" (a string or
// an array of strings, as for completions and embeddings) without the chat
// overhead; any other valid JSON counts as the tokens of its compact text.
// Invalid JSON, and a "messages" that is not an array of objects, yield an
// error wrapping llmqueue.ErrInvalidPayload, since OpenAI would reject the
// request.
//
// The encoding follows "model" (DefaultModel when the payload names none):
// o200k_base for gpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*, o4*,
// chatgpt-4o* and gpt-oss*; cl100k_base for gpt-4*, gpt-3.5*,
// text-embedding-3*, text-embedding-ada-002 and any model it does not know.
// Models served elsewhere tokenize differently; use
// llmqueue.HeuristicEstimator for them.
//
// The zero value is ready to use. Vocabularies load once per process on
// first use and are shared, so estimators are cheap to create and safe for
// concurrent use.
type Estimator struct {
	// DefaultModel picks the encoding when the payload has no "model".
	DefaultModel string
	// DefaultMaxTokens is the output budget assumed when the payload sets
	// no maximum. Zero means llmqueue.DefaultOutputAllowance; negative
	// values mean none.
	DefaultMaxTokens int64
}

// NewEstimator returns an Estimator with default settings.
func NewEstimator() *Estimator { return &Estimator{} }

// Chat-format overhead from OpenAI's cookbook (num_tokens_from_messages),
// valid for every chat model since gpt-3.5-turbo-0613.
const (
	tokensPerMessage = 3 // <|start|>{role}<|message|>…<|end|>
	tokensPerName    = 1
	tokensReplyPrime = 3 // <|start|>assistant<|message|>
)

// EstimateTokens returns the prompt tokens of payload plus its output budget.
func (e Estimator) EstimateTokens(payload json.RawMessage) (int64, error) {
	u, err := e.EstimateUsage(payload)
	return reqjson.AddSat(u.InputTokens, u.OutputTokens), err
}

// EstimateUsage returns the prompt tokens of payload as input and its output
// budget as output.
func (e Estimator) EstimateUsage(payload json.RawMessage) (llmqueue.Usage, error) {
	obj, isObject, err := reqjson.Decode(payload)
	if err != nil {
		return llmqueue.Usage{}, fmt.Errorf("%w: %w", llmqueue.ErrInvalidPayload, err)
	}
	model := e.DefaultModel
	if isObject {
		if m, ok := reqjson.String(obj["model"]); ok && m != "" {
			model = m
		}
	}
	codec, err := codecForModel(model)
	if err != nil {
		return llmqueue.Usage{}, err
	}
	if !isObject {
		n, err := jsonTokens(codec, payload)
		return llmqueue.Usage{InputTokens: n, OutputTokens: e.outputAllowance()}, err
	}

	var prompt int64
	switch {
	case reqjson.Has(obj, "messages"):
		prompt, err = chatTokens(codec, obj["messages"])
	case reqjson.Has(obj, "prompt"):
		prompt, err = textTokens(codec, obj["prompt"])
	case reqjson.Has(obj, "input"):
		prompt, err = textTokens(codec, obj["input"])
	default:
		prompt, err = jsonTokens(codec, payload)
	}
	if err != nil {
		return llmqueue.Usage{}, err
	}
	for _, key := range [...]string{"tools", "functions"} {
		if raw, ok := obj[key]; ok && !reqjson.IsNull(raw) {
			n, err := jsonTokens(codec, raw)
			if err != nil {
				return llmqueue.Usage{}, err
			}
			prompt += n
		}
	}
	return llmqueue.Usage{InputTokens: prompt, OutputTokens: reqjson.OutputBudget(obj, e.outputAllowance())}, nil
}

// chatTokens implements num_tokens_from_messages over raw JSON messages.
func chatTokens(codec tokenizer.Codec, raw json.RawMessage) (int64, error) {
	var msgs []json.RawMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return 0, fmt.Errorf("%w: messages: %w", llmqueue.ErrInvalidPayload, err)
	}
	if msgs == nil {
		return 0, fmt.Errorf("%w: messages is null", llmqueue.ErrInvalidPayload)
	}
	total := int64(tokensReplyPrime)
	for i, rawMsg := range msgs {
		var msg map[string]json.RawMessage
		if err := json.Unmarshal(rawMsg, &msg); err != nil || msg == nil {
			return 0, fmt.Errorf("%w: messages[%d] is not an object", llmqueue.ErrInvalidPayload, i)
		}
		total += tokensPerMessage
		for key, value := range msg {
			n, err := fieldTokens(codec, key, value)
			if err != nil {
				return 0, err
			}
			total += n
			if key == "name" {
				total += tokensPerName
			}
		}
	}
	return total, nil
}

// fieldTokens counts one message field. Strings are encoded as the model
// sees them (unescaped); null costs nothing (content of a tool-call
// message); other values are approximated by their JSON.
func fieldTokens(codec tokenizer.Codec, key string, value json.RawMessage) (int64, error) {
	if reqjson.IsNull(value) {
		return 0, nil
	}
	if s, ok := reqjson.String(value); ok {
		return tokenCount(codec, s)
	}
	if key == "content" {
		var parts []json.RawMessage
		if json.Unmarshal(value, &parts) == nil {
			var total int64
			for _, p := range parts {
				if s, ok := reqjson.PartText(p); ok {
					n, err := tokenCount(codec, s)
					if err != nil {
						return 0, err
					}
					total += n
				}
			}
			return total, nil
		}
	}
	return jsonTokens(codec, value)
}

// textTokens counts a prompt or input: a string or an array of strings.
// Anything else (token arrays, Responses API items) counts as its JSON.
func textTokens(codec tokenizer.Codec, raw json.RawMessage) (int64, error) {
	if s, ok := reqjson.String(raw); ok {
		return tokenCount(codec, s)
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		var total int64
		for _, s := range ss {
			n, err := tokenCount(codec, s)
			if err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	}
	return jsonTokens(codec, raw)
}

// jsonTokens counts raw JSON after compacting it, so that indentation in the
// stored payload does not inflate the estimate.
func jsonTokens(codec tokenizer.Codec, raw json.RawMessage) (int64, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return 0, fmt.Errorf("%w: %w", llmqueue.ErrInvalidPayload, err)
	}
	return tokenCount(codec, buf.String())
}

// outputAllowance reads DefaultMaxTokens: 0 means
// llmqueue.DefaultOutputAllowance, negative means none.
func (e Estimator) outputAllowance() int64 {
	if e.DefaultMaxTokens == 0 {
		return llmqueue.DefaultOutputAllowance
	}
	return max(e.DefaultMaxTokens, 0)
}
