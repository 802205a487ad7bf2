package llmqueue

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Each built-in meter against the provider rule it models: what a call is
// charged at arrival, what it settles to when the reply used less or more
// than reserved, and what a 429 costs.
func TestMeter_ChargeSettleRefuse(t *testing.T) {
	est := Usage{InputTokens: 1_000, OutputTokens: 4_000} // prompt, max_tokens
	arrival := Charge{Tokens: 5_000, InputTokens: 1_000, OutputTokens: 4_000}
	less := Usage{InputTokens: 1_000, OutputTokens: 2_000}
	more := Usage{InputTokens: 1_200, OutputTokens: 4_500}
	cached := Usage{InputTokens: 200, OutputTokens: 100, CacheReadInputTokens: 800, CacheCreationInputTokens: 300}
	cases := []struct {
		name      string
		meter     Meter
		settleLow Charge // after a reply that used half its output allowance
		settleHi  Charge // after a reply that used more than estimated
		cached    Charge // after a reply that read 800 and wrote 300 cached tokens
	}{
		{
			name: "OpenAI keeps the arrival charge, settles only up", meter: OpenAIMeter{},
			settleLow: arrival,
			settleHi:  Charge{Tokens: 5_700, InputTokens: 1_200, OutputTokens: 4_500},
			cached:    arrival,
		},
		{
			name: "Bedrock 1x settles to input + cache writes + output", meter: BedrockMeter{},
			settleLow: Charge{Tokens: 3_000, InputTokens: 1_000, OutputTokens: 2_000},
			settleHi:  Charge{Tokens: 5_700, InputTokens: 1_200, OutputTokens: 4_500},
			cached:    Charge{Tokens: 600, InputTokens: 500, OutputTokens: 100},
		},
		{
			name: "Bedrock 5x burns output down five times", meter: BedrockMeter{OutputBurndown: 5},
			settleLow: Charge{Tokens: 11_000, InputTokens: 1_000, OutputTokens: 10_000},
			settleHi:  Charge{Tokens: 23_700, InputTokens: 1_200, OutputTokens: 22_500},
			cached:    Charge{Tokens: 1_000, InputTokens: 500, OutputTokens: 500},
		},
		{
			name: "Anthropic settles output to the real output, cache reads free", meter: AnthropicMeter{},
			settleLow: Charge{Tokens: 3_000, InputTokens: 1_000, OutputTokens: 2_000},
			settleHi:  Charge{Tokens: 5_700, InputTokens: 1_200, OutputTokens: 4_500},
			cached:    Charge{Tokens: 600, InputTokens: 500, OutputTokens: 100},
		},
		{
			name: "Exact settles to the reported usage", meter: ExactMeter{},
			settleLow: Charge{Tokens: 3_000, InputTokens: 1_000, OutputTokens: 2_000},
			settleHi:  Charge{Tokens: 5_700, InputTokens: 1_200, OutputTokens: 4_500},
			cached:    Charge{Tokens: 300, InputTokens: 200, OutputTokens: 100},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reserved := tc.meter.Reserve(est)
			assert.Equal(t, arrival, reserved, "charged at arrival: input + output allowance")
			assert.Equal(t, tc.settleLow, tc.meter.Settle(reserved, less), "settle after a short reply")
			assert.Equal(t, tc.settleHi, tc.meter.Settle(reserved, more), "settle after a long reply")
			assert.Equal(t, tc.cached, tc.meter.Settle(reserved, cached), "settle with cached input")
			assert.Equal(t, Charge{}, tc.meter.Refused(reserved), "a 429 costs nothing")
		})
	}
}

// Meters never return a negative charge or one above MaxTokens, whatever a
// provider reports.
func TestMeter_ClampsHostileUsage(t *testing.T) {
	hostile := []Usage{
		{InputTokens: -5, OutputTokens: -7},
		{InputTokens: 1 << 62, OutputTokens: 1 << 62},
		{OutputTokens: 1 << 62, CacheCreationInputTokens: 1 << 62},
	}
	for _, m := range []Meter{OpenAIMeter{}, BedrockMeter{OutputBurndown: 5}, AnthropicMeter{}, ExactMeter{},
		BedrockMeter{OutputBurndown: -1}} {
		for _, u := range hostile {
			for _, c := range []Charge{m.Reserve(u), m.Settle(m.Reserve(u), u)} {
				for _, n := range []int64{c.Tokens, c.InputTokens, c.OutputTokens} {
					assert.GreaterOrEqual(t, n, int64(0), "%T %+v", m, u)
					assert.LessOrEqual(t, n, MaxTokens, "%T %+v", m, u)
				}
			}
		}
	}
}
