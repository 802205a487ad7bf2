package providertest

import (
	"encoding/json"
	"math"
	"unicode/utf8"
)

// textChars counts the characters of a message content the way both OpenAI
// and Anthropic accept it: a string, or an array of parts whose "text" is
// counted (other parts, such as images, count nothing).
func textChars(content json.RawMessage) int {
	var s string
	if json.Unmarshal(content, &s) == nil {
		return utf8.RuneCountInString(s)
	}
	var parts []struct {
		Text string `json:"text"`
	}
	n := 0
	if json.Unmarshal(content, &parts) == nil {
		for _, p := range parts {
			n += utf8.RuneCountInString(p.Text)
		}
	}
	return n
}

// charsToTokens is the fake servers' prompt estimate: ceil(chars / 4), at
// least 1.
func charsToTokens(chars int) int64 {
	return max(1, int64((chars+3)/4))
}

// outputTokens is the output a reply uses: ceil(allowance x fraction),
// where a fraction outside (0, 1] means the whole allowance.
func outputTokens(allowance int64, fraction float64) int64 {
	if !(fraction > 0) || fraction >= 1 {
		return allowance
	}
	return int64(math.Ceil(float64(allowance) * fraction))
}
