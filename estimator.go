package llmqueue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Compile-time checks: both estimators are meant to be passed wherever the
// queue wants an Estimator, by value or by pointer.
var (
	_ Estimator      = HeuristicEstimator{}
	_ Estimator      = (*TiktokenEstimator)(nil)
	_ UsageEstimator = HeuristicEstimator{}
	_ UsageEstimator = (*TiktokenEstimator)(nil)
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
// a safe default; use TiktokenEstimator when exact OpenAI counts matter.
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
		out := outputBudget(obj, outputAllowance(h.DefaultMaxTokens))
		if chars, ok := promptChars(obj); ok {
			return Usage{InputTokens: ceilDiv(chars, cpt), OutputTokens: out}, nil
		}
		return Usage{InputTokens: ceilDiv(int64(len(payload)), cpt), OutputTokens: out}, nil
	}
	return Usage{InputTokens: ceilDiv(int64(len(payload)), cpt),
		OutputTokens: outputAllowance(h.DefaultMaxTokens)}, nil
}

// decodePayload splits "invalid JSON" (an error) from "valid JSON that is not
// an object" (isObject false), which callers estimate differently.
func decodePayload(payload json.RawMessage) (obj map[string]json.RawMessage, isObject bool, err error) {
	if uerr := json.Unmarshal(payload, &obj); uerr != nil {
		// Unmarshal validates the whole input before decoding, so a syntax
		// error means the payload is not JSON at all; any other error means
		// valid JSON of another type.
		var syntaxErr *json.SyntaxError
		if errors.As(uerr, &syntaxErr) {
			return nil, false, fmt.Errorf("%w: %w", ErrInvalidPayload, uerr)
		}
		return nil, false, nil
	}
	// A literal null decodes without error into a nil map.
	return obj, obj != nil, nil
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
		if s, good := jsonString(raw); good {
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
	if s, ok := jsonString(raw); ok {
		return runeCount(s), true
	}
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) != nil || parts == nil {
		return 0, false
	}
	var chars int64
	for _, p := range parts {
		if s, ok := partText(p); ok {
			chars += runeCount(s)
		}
	}
	return chars, true
}

// partText returns the text of one content part: {"text": "..."} or, though
// no provider documents it, a bare string.
func partText(raw json.RawMessage) (string, bool) {
	if s, ok := jsonString(raw); ok {
		return s, true
	}
	// A map rather than a struct: encoding/json matches struct tags
	// case-insensitively, and only the exact key "text" carries text.
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return "", false
	}
	return jsonString(fields["text"])
}

// stringsChars counts a string or an array of strings.
func stringsChars(raw json.RawMessage) (int64, bool) {
	if s, ok := jsonString(raw); ok {
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

// jsonString decodes raw when it is a JSON string; null is not a string
// here, unlike for json.Unmarshal into a string, which leaves it unchanged.
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

func isJSONNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

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
func clampTokens(f float64) int64 {
	if !(f > 0) { // also catches NaN
		return 0
	}
	f = math.Ceil(f)
	if f >= math.MaxInt64 { // float64(MaxInt64) rounds up to 2^63
		return math.MaxInt64
	}
	return int64(f)
}

func addTokensSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func mulTokensSat(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// outputBudget is the completion budget a provider reserves for the request:
// the largest maximum the payload sets (def when it sets none) times the
// number of choices. Taking the largest keeps the estimate on the safe side
// when a payload carries both the legacy and the current field. The
// maximum is not multiplied (the Python package multiplied max_tokens by
// 3-5 per model family): it already bounds the reply, and every provider
// reserves it once.
func outputBudget(obj map[string]json.RawMessage, def int64) int64 {
	budget, found := int64(0), false
	consider := func(fields map[string]json.RawMessage, key string) {
		if n, ok := jsonNumber(fields[key]); ok {
			budget, found = max(budget, n), true
		}
	}
	consider(obj, "max_completion_tokens")
	consider(obj, "max_tokens")
	consider(obj, "max_output_tokens")
	consider(obj, "maxTokens") // providers/bedrock's Payload
	var cfg map[string]json.RawMessage
	if json.Unmarshal(obj["inferenceConfig"], &cfg) == nil {
		consider(cfg, "maxTokens")
	}
	if !found {
		budget = max(def, 0)
	}
	choices := int64(1)
	if n, ok := jsonNumber(obj["n"]); ok && n > 1 {
		choices = n
	}
	return mulTokensSat(budget, choices)
}

func hasField(m map[string]json.RawMessage, k string) bool {
	_, ok := m[k]
	return ok
}

// jsonNumber reads a JSON number as a token count: negative means 0,
// fractions round up, and values beyond int64 (even 1e400) saturate, so a
// hostile payload cannot wrap the estimate around to something small.
// Anything that is not a number (null, a string) reports false.
func jsonNumber(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, false
	}
	// JSON number syntax is a subset of ParseFloat's, and ParseFloat
	// returns ±Inf with ErrRange on overflow, which clampTokens saturates.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return clampTokens(f), true
}
