package llmqueue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// TiktokenEstimator counts the tokens of an OpenAI chat-completions payload
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
// "max_output_tokens" (and the Bedrock fields HeuristicEstimator reads), or
// DefaultMaxTokens when none is set, counted once and never scaled up.
//
// A payload without "messages" counts its "prompt" or "input" (a string or
// an array of strings, as for completions and embeddings) without the chat
// overhead; any other valid JSON counts as the tokens of its compact text.
// Invalid JSON, and a "messages" that is not an array of objects, yield an
// error wrapping ErrInvalidPayload, since OpenAI would reject the request.
//
// The encoding follows "model" (DefaultModel when the payload names none):
// o200k_base for gpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*, o4*,
// chatgpt-4o* and gpt-oss*; cl100k_base for gpt-4*, gpt-3.5*,
// text-embedding-3*, text-embedding-ada-002 and any model it does not know.
// Models served elsewhere tokenize differently; use HeuristicEstimator for
// them.
//
// The zero value is ready to use. Vocabularies load once per process on
// first use and are shared, so estimators are cheap to create and safe for
// concurrent use.
type TiktokenEstimator struct {
	// DefaultModel picks the encoding when the payload has no "model".
	DefaultModel string
	// DefaultMaxTokens is the output budget assumed when the payload sets
	// no maximum. Zero means DefaultOutputAllowance; negative values mean
	// none.
	DefaultMaxTokens int64
}

// NewTiktokenEstimator returns a TiktokenEstimator with default settings.
func NewTiktokenEstimator() *TiktokenEstimator { return &TiktokenEstimator{} }

// Chat-format overhead from OpenAI's cookbook (num_tokens_from_messages),
// valid for every chat model since gpt-3.5-turbo-0613.
const (
	tokensPerMessage = 3 // <|start|>{role}<|message|>…<|end|>
	tokensPerName    = 1
	tokensReplyPrime = 3 // <|start|>assistant<|message|>
)

// EstimateTokens returns the prompt tokens of payload plus its output budget.
func (e TiktokenEstimator) EstimateTokens(payload json.RawMessage) (int64, error) {
	u, err := e.EstimateUsage(payload)
	return addTokensSat(u.InputTokens, u.OutputTokens), err
}

// EstimateUsage returns the prompt tokens of payload as input and its output
// budget as output.
func (e TiktokenEstimator) EstimateUsage(payload json.RawMessage) (Usage, error) {
	obj, isObject, err := decodePayload(payload)
	if err != nil {
		return Usage{}, err
	}
	model := e.DefaultModel
	if isObject {
		if m, ok := jsonString(obj["model"]); ok && m != "" {
			model = m
		}
	}
	codec, err := codecForModel(model)
	if err != nil {
		return Usage{}, err
	}
	if !isObject {
		n, err := jsonTokens(codec, payload)
		return Usage{InputTokens: n, OutputTokens: outputAllowance(e.DefaultMaxTokens)}, err
	}

	var prompt int64
	switch {
	case hasField(obj, "messages"):
		prompt, err = chatTokens(codec, obj["messages"])
	case hasField(obj, "prompt"):
		prompt, err = textTokens(codec, obj["prompt"])
	case hasField(obj, "input"):
		prompt, err = textTokens(codec, obj["input"])
	default:
		prompt, err = jsonTokens(codec, payload)
	}
	if err != nil {
		return Usage{}, err
	}
	for _, key := range [...]string{"tools", "functions"} {
		if raw, ok := obj[key]; ok && !isJSONNull(raw) {
			n, err := jsonTokens(codec, raw)
			if err != nil {
				return Usage{}, err
			}
			prompt += n
		}
	}
	return Usage{InputTokens: prompt, OutputTokens: outputBudget(obj, outputAllowance(e.DefaultMaxTokens))}, nil
}

// chatTokens implements num_tokens_from_messages over raw JSON messages.
func chatTokens(codec tokenizer.Codec, raw json.RawMessage) (int64, error) {
	var msgs []json.RawMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return 0, fmt.Errorf("%w: messages: %w", ErrInvalidPayload, err)
	}
	if msgs == nil {
		return 0, fmt.Errorf("%w: messages is null", ErrInvalidPayload)
	}
	total := int64(tokensReplyPrime)
	for i, rawMsg := range msgs {
		var msg map[string]json.RawMessage
		if err := json.Unmarshal(rawMsg, &msg); err != nil || msg == nil {
			return 0, fmt.Errorf("%w: messages[%d] is not an object", ErrInvalidPayload, i)
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
	if isJSONNull(value) {
		return 0, nil
	}
	if s, ok := jsonString(value); ok {
		return tokenCount(codec, s)
	}
	if key == "content" {
		var parts []json.RawMessage
		if json.Unmarshal(value, &parts) == nil {
			var total int64
			for _, p := range parts {
				if s, ok := partText(p); ok {
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
	if s, ok := jsonString(raw); ok {
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
		return 0, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	return tokenCount(codec, buf.String())
}

func tokenCount(codec tokenizer.Codec, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := codec.Count(s)
	if err != nil {
		return 0, fmt.Errorf("llmqueue: count tokens with %s: %w", codec.GetName(), err)
	}
	return int64(n), nil
}

// CountTokens returns the number of tokens text encodes to with the
// encoding of model (see TiktokenEstimator for the mapping; unknown models
// use cl100k_base). Special-token markers such as "<|endoftext|>" are counted
// as ordinary text, as they are when they occur in a user's message.
func CountTokens(model, text string) (int, error) {
	codec, err := codecForModel(model)
	if err != nil {
		return 0, err
	}
	n, err := tokenCount(codec, text)
	return int(n), err
}

// The vocabularies take milliseconds and megabytes to build, so each is
// built once, on first use, and shared; tokenizer codecs are safe for
// concurrent Count calls.
var (
	o200kCodec  = sync.OnceValues(func() (tokenizer.Codec, error) { return tokenizer.Get(tokenizer.O200kBase) })
	cl100kCodec = sync.OnceValues(func() (tokenizer.Codec, error) { return tokenizer.Get(tokenizer.Cl100kBase) })
)

// o200kPrefixes are the model families on o200k_base, after tiktoken's
// MODEL_PREFIX_TO_ENCODING (gpt-oss uses o200k_harmony, which only adds
// special tokens, so ordinary text counts the same). Every other model,
// including gpt-4, gpt-3.5 and the embedding models, uses cl100k_base, which
// is also tiktoken's fallback.
var o200kPrefixes = [...]string{
	"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "gpt-oss",
	"o1", "o3", "o4",
}

// encodingForModel maps a model name to its encoding. Fine-tune names
// ("ft:gpt-4o-mini:org::id") and routed names ("openai/gpt-4o") resolve to
// their base model.
func encodingForModel(model string) tokenizer.Encoding {
	m := strings.ToLower(strings.TrimSpace(model))
	m = strings.TrimPrefix(m, "ft:")
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	for _, p := range o200kPrefixes {
		if strings.HasPrefix(m, p) {
			return tokenizer.O200kBase
		}
	}
	return tokenizer.Cl100kBase
}

func codecForModel(model string) (tokenizer.Codec, error) {
	enc := encodingForModel(model)
	load := cl100kCodec
	if enc == tokenizer.O200kBase {
		load = o200kCodec
	}
	codec, err := load()
	if err != nil {
		return nil, fmt.Errorf("llmqueue: load %s tokenizer: %w", enc, err)
	}
	return codec, nil
}
