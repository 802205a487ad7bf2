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
// reserve when a payload sets no maximum (max_tokens or the like).
const DefaultOutputAllowance = 1024

// outputAllowance reads a DefaultMaxTokens setting: 0 means
// DefaultOutputAllowance, negative means none.
func outputAllowance(def int64) int64 {
	// Providers charge the output allowance when a call arrives, and without
	// a maximum some reserve the model's whole output limit (Bedrock: up to
	// 64K), so 0 would admit far more than the provider will; 1,024 covers
	// a typical reply.
	if def == 0 {
		return DefaultOutputAllowance
	}
	return max(def, 0)
}

// defaultCharsPerToken is OpenAI's rule of thumb for English text.
const defaultCharsPerToken = 4

// HeuristicEstimator estimates tokens from the prompt text's characters plus
// the payload's output maximum, without a tokenizer. The zero value is ready
// and safe for concurrent use; see the README, "Estimating tokens and time".
type HeuristicEstimator struct {
	CharsPerToken    float64 // characters per token; 0 (or not positive) means 4
	DefaultMaxTokens int64   // output budget when the payload sets none; 0 means DefaultOutputAllowance, negative none
}

// EstimateTokens returns the estimated prompt plus output tokens.
func (h HeuristicEstimator) EstimateTokens(payload json.RawMessage) (int64, error) {
	u, err := h.EstimateUsage(payload)
	return addTokensSat(u.InputTokens, u.OutputTokens), err
}

// EstimateUsage returns the estimate split into input and output tokens;
// invalid JSON fails with ErrInvalidPayload.
func (h HeuristicEstimator) EstimateUsage(payload json.RawMessage) (Usage, error) {
	// What it counts, for an object payload: the characters (code points)
	// of "messages" (each content: a string, or parts with a "text"),
	// "system", "prompt", "input" (string, strings or messages, as the
	// OpenAI Responses API) and "instructions"; ceil(chars/CharsPerToken)
	// plus the output budget: the largest of max_completion_tokens,
	// max_tokens, max_output_tokens, maxTokens and
	// inferenceConfig.maxTokens (else DefaultMaxTokens), times "n". The
	// budget is counted once, never scaled: a reply cannot be longer than
	// its maximum. Images, audio and tools are not counted (a lower bound
	// then), and dense scripts (CJK, about one token per character) want a
	// lower CharsPerToken. Any other shape counts len(payload).
	cpt := h.CharsPerToken
	if !(cpt > 0) || math.IsInf(cpt, 1) {
		cpt = defaultCharsPerToken
	}
	if u, ok := scanUsage(payload, cpt, outputAllowance(h.DefaultMaxTokens)); ok {
		return u, nil
	}
	return h.decodeUsage(payload, cpt)
}

// decodeUsage is EstimateUsage by decoding the payload: what scanUsage
// leaves to it, and the reference the scanner is tested against.
func (h HeuristicEstimator) decodeUsage(payload json.RawMessage, cpt float64) (Usage, error) {
	obj, isObject, err := decodePayload(payload)
	if err != nil {
		return Usage{}, err
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
