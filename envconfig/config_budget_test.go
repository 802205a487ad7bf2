package envconfig

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfig_BudgetKeepsEveryVariable: the examples once built a Budget
// by hand and dropped LLM_QUEUE_SAFETY_BUFFER_PERCENT; Manager.Budget is
// filled by the loader itself.
func TestConfig_BudgetKeepsEveryVariable(t *testing.T) {
	cases := []struct {
		name       string
		env        map[string]string
		wantUsable int64
	}{
		{"default 10% buffer", map[string]string{"LLM_QUEUE_TOTAL_TPM": "100000"}, 90_000},
		{"no buffer", map[string]string{"LLM_QUEUE_TOTAL_TPM": "100000", "LLM_QUEUE_SAFETY_BUFFER_PERCENT": "0"}, 100_000},
		{"buffer from env", map[string]string{"LLM_QUEUE_TOTAL_TPM": "100000", "LLM_QUEUE_SAFETY_BUFFER_PERCENT": "20"}, 80_000},
		{"allocation and buffer", map[string]string{"LLM_QUEUE_TOTAL_TPM": "100000", "LLM_QUEUE_API_ALLOCATION_PERCENT": "50",
			"LLM_QUEUE_SAFETY_BUFFER_PERCENT": "10"}, 45_000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := FromLookup(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			require.NoError(t, err)
			assert.Equal(t, tc.wantUsable, cfg.Manager.Budget.UsableTokens())
		})
	}
}
