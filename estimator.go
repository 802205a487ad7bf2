package llmqueue

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/llmqueue/llmqueue/internal/reqjson"
)

// Compile-time checks: HeuristicEstimator is meant to be passed wherever
// the queue wants an Estimator, by value or by pointer.
var (
	_ Estimator      = HeuristicEstimator{}
	_ UsageEstimator = HeuristicEstimator{}
)

// DefaultOutputAllowance is the output tokens the built-in estimators
// assume when a payload sets no maximum (no max_tokens or the like).
// Providers charge the output allowance against the rate limit when a call
// arrives, and without a maximum some reserve the model's whole output
// limit (Bedrock: up to 64K), so 0 would let the queue admit far more than
// the provider will; 1,024 covers a typical reply. Set the estimator's
// DefaultMaxTokens to your model's real default, or better, set max_tokens
// in every payload.
const DefaultOutputAllowance = 1024

// outputAllowance reads a DefaultMaxTokens setting: 0 means
// DefaultOutputAllowance, negative means none.
func outputAllowance(def int64) int64 {
	if def == 0 {
		return DefaultOutputAllowance
	}
	return max(def, 0)
}

// defaultCharsPerToken is OpenAI's rule of thumb for English text.
const defaultCharsPerToken = 4

// HeuristicEstimator estimates a request's token cost from the length of its
// text, without a tokenizer. It is cheap, provider-neutral (OpenAI,
// Anthropic, Bedrock Converse) and never fails on valid JSON, which makes it
// a safe default; use package github.com/llmqueue/llmqueue/tiktoken
// (tiktoken.Estimator) when exact OpenAI counts matter.
//
// For an object payload it counts the characters (Unicode code points) of the
// prompt text it recognises:
//
//   - "messages": each message's "content", either a string or an array of
//     parts whose "text" field is a string (OpenAI {"type":"text","text":…},
//     Anthropic and Bedrock {"text":…});
//   - "system": a string or an array of such parts;
//   - "prompt": a string or an array of strings;
//   - "input": a string, an array of strings, or an array of messages (the
//     OpenAI Responses API);
//   - "instructions": a string.
//
// The estimate is ceil(characters / CharsPerToken) plus the output budget:
// the largest of "max_completion_tokens", "max_tokens", "max_output_tokens"
// (OpenAI, Anthropic), "maxTokens" (providers/bedrock's Payload) and
// "inferenceConfig"."maxTokens" (Bedrock Converse), DefaultMaxTokens when
// none is set, multiplied by "n" when it asks for several choices, because
// providers reserve the whole completion budget against the rate limit up
// front. The budget is counted once, never scaled up: a reply cannot be
// longer than its maximum, so input + maximum is already the most a call
// can cost at arrival (see the README, "Estimating tokens and time").
//
// Images, audio, tool definitions and tool calls are not counted, so the
// estimate is a lower bound for such requests. Counting code points rather
// than bytes also underestimates scripts that tokenize densely (CJK is about
// one token per character); lower CharsPerToken for such traffic.
//
// When the payload has none of those shapes (a JSON array, a bare string, an
// object with other fields) the estimate is ceil(len(payload) /
// CharsPerToken). Invalid JSON yields an error wrapping ErrInvalidPayload.
//
// The zero value is ready to use and safe for concurrent use.
type HeuristicEstimator struct {
	// CharsPerToken is how many characters make one token. Zero, negative
	// and non-finite values mean 4.
	CharsPerToken float64
	// DefaultMaxTokens is the output budget assumed when the payload sets
	// no maximum. Zero means DefaultOutputAllowance; negative values mean
	// none.
	DefaultMaxTokens int64
}

// EstimateTokens returns the estimated prompt plus output tokens of payload.
// It never returns a negative count and never panics.
func (h HeuristicEstimator) EstimateTokens(payload json.RawMessage) (int64, error) {
	u, err := h.EstimateUsage(payload)
	return addTokensSat(u.InputTokens, u.OutputTokens), err
}

// EstimateUsage returns the estimate split into prompt (input) tokens and
// the output budget.
func (h HeuristicEstimator) EstimateUsage(payload json.RawMessage) (Usage, error) {
	obj, isObject, err := decodePayload(payload)
	if err != nil {
		return Usage{}, err
	}
	cpt := h.CharsPerToken
	if !(cpt > 0) || math.IsInf(cpt, 1) {
		cpt = defaultCharsPerToken
	}
	if isObject {
		out := reqjson.OutputBudget(obj, outputAllowance(h.DefaultMaxTokens))
		if chars, ok := promptChars(obj); ok {
			return Usage{InputTokens: ceilDiv(chars, cpt), OutputTokens: out}, nil
		}
		return Usage{InputTokens: ceilDiv(int64(len(payload)), cpt), OutputTokens: out}, nil
	}
	return Usage{InputTokens: ceilDiv(int64(len(payload)), cpt),
		OutputTokens: outputAllowance(h.DefaultMaxTokens)}, nil
}

// decodePayload splits "invalid JSON" (an error wrapping ErrInvalidPayload)
// from "valid JSON that is not an object" (isObject false), which callers
// estimate differently.
func decodePayload(payload json.RawMessage) (obj map[string]json.RawMessage, isObject bool, err error) {
	obj, isObject, err = reqjson.Decode(payload)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	return obj, isObject, nil
}

// promptChars sums the characters of the prompt text in obj; ok is false when
// obj has none of the recognised prompt fields.
func promptChars(obj map[string]json.RawMessage) (chars int64, ok bool) {
	if raw, found := obj["messages"]; found {
		if n, good := messagesChars(raw); good {
			chars, ok = chars+n, true
		}
	}
	if raw, found := obj["system"]; found {
		if n, good := contentChars(raw); good {
			chars, ok = chars+n, true
		}
	}
	if raw, found := obj["instructions"]; found {
		if s, good := reqjson.String(raw); good {
			chars, ok = chars+runeCount(s), true
		}
	}
	if raw, found := obj["prompt"]; found {
		if n, good := stringsChars(raw); good {
			chars, ok = chars+n, true
		}
	}
	if raw, found := obj["input"]; found {
		if n, good := stringsChars(raw); good {
			chars, ok = chars+n, true
		} else if n, good := messagesChars(raw); good {
			chars, ok = chars+n, true
		}
	}
	return chars, ok
}

// messagesChars counts the content of an array of message objects.
func messagesChars(raw json.RawMessage) (int64, bool) {
	var msgs []map[string]json.RawMessage
	if json.Unmarshal(raw, &msgs) != nil || msgs == nil {
		return 0, false
	}
	var chars int64
	for _, m := range msgs {
		if c, found := m["content"]; found {
			n, _ := contentChars(c)
			chars += n
		}
	}
	return chars, true
}

// contentChars counts a content value: a string or an array of parts
// carrying text. Non-text parts (images, tool use) count nothing.
func contentChars(raw json.RawMessage) (int64, bool) {
	if s, ok := reqjson.String(raw); ok {
		return runeCount(s), true
	}
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) != nil || parts == nil {
		return 0, false
	}
	var chars int64
	for _, p := range parts {
		if s, ok := reqjson.PartText(p); ok {
			chars += runeCount(s)
		}
	}
	return chars, true
}

// stringsChars counts a string or an array of strings.
func stringsChars(raw json.RawMessage) (int64, bool) {
	if s, ok := reqjson.String(raw); ok {
		return runeCount(s), true
	}
	var ss []string
	if json.Unmarshal(raw, &ss) != nil || ss == nil {
		return 0, false
	}
	var chars int64
	for _, s := range ss {
		chars += runeCount(s)
	}
	return chars, true
}

func isJSONNull(raw json.RawMessage) bool { return reqjson.IsNull(raw) }

func runeCount(s string) int64 { return int64(utf8.RuneCountInString(s)) }

// ceilDiv returns ceil(n / per) as a non-negative int64, saturating instead
// of overflowing (a float-to-int conversion out of range is
// implementation-defined in Go and could come out negative).
func ceilDiv(n int64, per float64) int64 {
	if n <= 0 {
		return 0
	}
	return clampTokens(float64(n) / per)
}

// clampTokens rounds f up to a token count in [0, math.MaxInt64].
func clampTokens(f float64) int64 { return reqjson.Clamp(f) }

// addTokensSat adds token counts, saturating at math.MaxInt64.
func addTokensSat(a, b int64) int64 { return reqjson.AddSat(a, b) }
