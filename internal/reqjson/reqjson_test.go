package reqjson

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		payload  string
		isObject bool
		err      bool
	}{
		{`{"a":1}`, true, false},
		{`[1,2]`, false, false},
		{`"text"`, false, false},
		{`null`, false, false},
		{`{"a":`, false, true},
		{`nope`, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.payload, func(t *testing.T) {
			obj, isObject, err := Decode(json.RawMessage(tc.payload))
			assert.Equal(t, tc.err, err != nil, "err %v", err)
			assert.Equal(t, tc.isObject, isObject)
			assert.Equal(t, tc.isObject, obj != nil)
		})
	}
}

func TestStringPartTextAndNull(t *testing.T) {
	tests := []struct {
		raw        string
		str        string
		isString   bool
		part       string
		isPartText bool
	}{
		{` "hi" `, "hi", true, "hi", true},
		{`{"text":"part"}`, "", false, "part", true},
		{`{"Text":"wrong case"}`, "", false, "", false},
		{`null`, "", false, "", false},
		{`42`, "", false, "", false},
		{`"bad \x"`, "", false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			s, ok := String(json.RawMessage(tc.raw))
			assert.Equal(t, tc.isString, ok)
			assert.Equal(t, tc.str, s)
			p, ok := PartText(json.RawMessage(tc.raw))
			assert.Equal(t, tc.isPartText, ok)
			assert.Equal(t, tc.part, p)
		})
	}
	assert.True(t, IsNull(json.RawMessage(" null ")))
	assert.False(t, IsNull(json.RawMessage(`"null"`)))
	assert.True(t, Has(map[string]json.RawMessage{"k": nil}, "k"))
	assert.False(t, Has(nil, "k"))
}

func TestNumber(t *testing.T) {
	tests := []struct {
		raw  string
		want int64
		ok   bool
	}{
		{`12`, 12, true},
		{` 2.1 `, 3, true},
		{`-5`, 0, true},
		{`1e400`, math.MaxInt64, true},
		{`9.3e18`, math.MaxInt64, true},
		{`"12"`, 0, false},
		{`null`, 0, false},
		{``, 0, false},
		{`1x`, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			n, ok := Number(json.RawMessage(tc.raw))
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, n)
		})
	}
	assert.Equal(t, int64(0), Clamp(math.NaN()))
	assert.Equal(t, int64(math.MaxInt64), Clamp(math.Inf(1)))
}

func TestOutputBudget(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    int64
	}{
		{"none: the default", `{}`, 100},
		{"max_tokens", `{"max_tokens":50}`, 50},
		{"the largest of several spellings", `{"max_tokens":50,"max_completion_tokens":80}`, 80},
		{"bedrock converse", `{"inferenceConfig":{"maxTokens":70}}`, 70},
		{"n choices multiply", `{"max_tokens":50,"n":3}`, 150},
		{"n of 1 or less does not", `{"max_tokens":50,"n":0}`, 50},
		{"saturates", `{"max_tokens":1e300,"n":4}`, math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj, _, err := Decode(json.RawMessage(tc.payload))
			require.NoError(t, err)
			assert.Equal(t, tc.want, OutputBudget(obj, 100))
		})
	}
}

func TestSaturatingArithmetic(t *testing.T) {
	assert.Equal(t, int64(5), AddSat(2, 3))
	assert.Equal(t, int64(math.MaxInt64), AddSat(math.MaxInt64-1, 2))
	assert.Equal(t, int64(6), MulSat(2, 3))
	assert.Equal(t, int64(0), MulSat(0, math.MaxInt64))
	assert.Equal(t, int64(math.MaxInt64), MulSat(math.MaxInt64/2, 3))
}
