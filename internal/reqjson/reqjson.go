// Package reqjson reads the fields of a request payload that every built-in
// estimator reads the same way: the payload's top-level object, strings,
// content parts and the output budget (max_tokens and its spellings). The
// root package's HeuristicEstimator and package tiktoken share it, so the
// two agree on everything but how text becomes tokens.
//
// Token counts saturate at math.MaxInt64 instead of wrapping, so a hostile
// payload cannot turn a huge estimate into a small one.
package reqjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// Decode splits "invalid JSON" (an error, to be wrapped in the caller's
// ErrInvalidPayload) from "valid JSON that is not an object" (isObject
// false), which callers estimate differently.
func Decode(payload json.RawMessage) (obj map[string]json.RawMessage, isObject bool, err error) {
	if uerr := json.Unmarshal(payload, &obj); uerr != nil {
		// Unmarshal validates the whole input before decoding, so a syntax
		// error means the payload is not JSON at all; any other error means
		// valid JSON of another type.
		var syntaxErr *json.SyntaxError
		if errors.As(uerr, &syntaxErr) {
			return nil, false, uerr
		}
		return nil, false, nil
	}
	// A literal null decodes without error into a nil map.
	return obj, obj != nil, nil
}

// String decodes raw when it is a JSON string; null is not a string here,
// unlike for json.Unmarshal into a string, which leaves it unchanged.
func String(raw json.RawMessage) (string, bool) {
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

// IsNull reports whether raw is the JSON literal null.
func IsNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// Has reports whether obj has the field key, whatever its value.
func Has(obj map[string]json.RawMessage, key string) bool {
	_, ok := obj[key]
	return ok
}

// PartText returns the text of one content part: {"text": "..."} or, though
// no provider documents it, a bare string.
func PartText(raw json.RawMessage) (string, bool) {
	if s, ok := String(raw); ok {
		return s, true
	}
	// A map rather than a struct: encoding/json matches struct tags
	// case-insensitively, and only the exact key "text" carries text.
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return "", false
	}
	return String(fields["text"])
}

// OutputBudget is the completion budget a provider reserves for the
// request: the largest maximum the payload sets (def when it sets none)
// times the number of choices. Taking the largest keeps the estimate on the
// safe side when a payload carries both the legacy and the current field.
// The maximum is not multiplied (the Python package multiplied max_tokens
// by 3-5 per model family): it already bounds the reply, and every provider
// reserves it once.
//
// The fields read are "max_completion_tokens", "max_tokens",
// "max_output_tokens" (OpenAI, Anthropic), "maxTokens" (providers/bedrock's
// Payload) and "inferenceConfig"."maxTokens" (Bedrock Converse); "n" above 1
// multiplies.
func OutputBudget(obj map[string]json.RawMessage, def int64) int64 {
	budget, found := int64(0), false
	consider := func(fields map[string]json.RawMessage, key string) {
		if n, ok := Number(fields[key]); ok {
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
	if n, ok := Number(obj["n"]); ok && n > 1 {
		choices = n
	}
	return MulSat(budget, choices)
}

// Number reads a JSON number as a token count: negative means 0, fractions
// round up, and values beyond int64 (even 1e400) saturate. Anything that is
// not a number (null, a string) reports false.
func Number(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, false
	}
	// JSON number syntax is a subset of ParseFloat's, and ParseFloat
	// returns ±Inf with ErrRange on overflow, which Clamp saturates.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return Clamp(f), true
}

// Clamp rounds f up to a token count in [0, math.MaxInt64] (a float-to-int
// conversion out of range is implementation-defined in Go and could come
// out negative).
func Clamp(f float64) int64 {
	if !(f > 0) { // also catches NaN
		return 0
	}
	f = math.Ceil(f)
	if f >= math.MaxInt64 { // float64(MaxInt64) rounds up to 2^63
		return math.MaxInt64
	}
	return int64(f)
}

// AddSat returns a + b for non-negative counts, saturating at
// math.MaxInt64.
func AddSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// MulSat returns a * b for non-negative counts, saturating at
// math.MaxInt64.
func MulSat(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}
