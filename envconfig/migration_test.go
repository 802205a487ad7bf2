package envconfig

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pythonEnv is the environment block of llm-queue-task-manager's README.
var pythonEnv = env{
	"REDIS_HOST":                       "localhost",
	"REDIS_PORT":                       "6379",
	"REDIS_DB":                         "0",
	"REDIS_MAX_CONNECTIONS":            "20",
	"LLM_QUEUE_TOTAL_TPM":              "1000000",
	"LLM_QUEUE_API_ALLOCATION_PERCENT": "40",
	"LLM_QUEUE_BATCH_LOW_COUNT":        "3",
	"LLM_QUEUE_BATCH_MEDIUM_COUNT":     "2",
	"LLM_QUEUE_BATCH_LONG_COUNT":       "1",
	"LLM_QUEUE_MAX_EMPTY_CYCLES":       "5",
	"LLM_QUEUE_QUOTA_WAIT_DURATION":    "65",
}

// noteKey is what a test expects of one note.
type noteKey struct {
	variable string
	set      bool
	value    string
	level    slog.Level
}

func keysOf(notes []MigrationNote) []noteKey {
	var keys []noteKey
	for _, n := range notes {
		keys = append(keys, noteKey{n.Variable, n.Set, n.Value, n.Level})
	}
	return keys
}

func TestMigrationNotes_OnlyForAnEnvironmentWrittenForPython(t *testing.T) {
	info, warn := slog.LevelInfo, slog.LevelWarn
	tests := []struct {
		name string
		env  env
		want []noteKey
	}{
		{"empty environment", env{}, nil},
		{"new deployment with a budget", env{"LLM_QUEUE_TOTAL_TPM": "90000", "LLM_QUEUE_API_ALLOCATION_PERCENT": "80"}, nil},
		{"new deployment with a Go duration", env{"LLM_QUEUE_QUOTA_WAIT_DURATION": "90s", "LLM_QUEUE_TOTAL_TPM": "90000"}, nil},
		{"blank Python variables count as unset", env{"LLM_QUEUE_MAX_EMPTY_CYCLES": " ", "LLM_QUEUE_QUOTA_WAIT_DURATION": ""}, nil},
		{"the Python README's whole block", pythonEnv, []noteKey{
			{"LLM_QUEUE_TOTAL_TPM", true, "1000000", info},
			{"LLM_QUEUE_API_ALLOCATION_PERCENT", true, "40", info},
			{"LLM_QUEUE_MAX_EMPTY_CYCLES", true, "5", info},
			{"LLM_QUEUE_QUOTA_WAIT_DURATION", true, "65", info},
		}},
		{"Python block without a budget: both defaults changed", env{"LLM_QUEUE_MAX_EMPTY_CYCLES": "5"}, []noteKey{
			{"LLM_QUEUE_TOTAL_TPM", false, "", warn},
			{"LLM_QUEUE_API_ALLOCATION_PERCENT", false, "", warn},
			{"LLM_QUEUE_MAX_EMPTY_CYCLES", true, "5", info},
		}},
		{"Python block with a limit but no allocation", env{"LLM_QUEUE_QUOTA_WAIT_DURATION": " 65 ", "LLM_QUEUE_TOTAL_TPM": "500000"}, []noteKey{
			{"LLM_QUEUE_TOTAL_TPM", true, "500000", info},
			{"LLM_QUEUE_API_ALLOCATION_PERCENT", false, "", warn},
			{"LLM_QUEUE_QUOTA_WAIT_DURATION", true, "65", info},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, keysOf(MigrationNotes(tt.env.lookup)))
		})
	}
	assert.Nil(t, MigrationNotes(nil))
}

func TestMigrationNotes_StateBothMeaningsAndTheRealDefaults(t *testing.T) {
	notes := MigrationNotes(env{"LLM_QUEUE_MAX_EMPTY_CYCLES": "5", "LLM_QUEUE_QUOTA_WAIT_DURATION": "65"}.lookup)
	d := Default()
	want := map[string][2]string{ // variable: a piece of Python, a piece of LLMQueue
		"LLM_QUEUE_TOTAL_TPM":              {"1,000,000", "no token limit"},
		"LLM_QUEUE_API_ALLOCATION_PERCENT": {"40%", "100%"},
		"LLM_QUEUE_MAX_EMPTY_CYCLES":       {"default 5", "default 3"},
		"LLM_QUEUE_QUOTA_WAIT_DURATION":    {"default 65", "default 60s"},
	}
	require.Len(t, notes, len(want))
	for _, n := range notes {
		w, ok := want[n.Variable]
		require.True(t, ok, n.Variable)
		assert.Contains(t, n.Python, w[0], n.Variable)
		assert.Contains(t, n.LLMQueue, w[1], n.Variable)
	}
	// The texts quote llmqueue's defaults; keep them true.
	assert.Zero(t, d.Manager.Budget.TPM)
	assert.Equal(t, 100.0, d.Manager.Budget.APIAllocationPercent)
	assert.Equal(t, 3, d.Worker.MaxEmptyCycles)
	assert.Equal(t, "1m0s", d.Worker.MaxBudgetWait.String())
}

func TestLogMigrationNotes_LogsEachNoteOnceAtItsLevel(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	LogMigrationNotes(logger, env{"LLM_QUEUE_MAX_EMPTY_CYCLES": "5", "LLM_QUEUE_TOTAL_TPM": "1000000"}.lookup)

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		lines = append(lines, m)
	}
	require.Len(t, lines, 3, buf.String())
	want := []struct{ level, variable, value string }{
		{"INFO", "LLM_QUEUE_TOTAL_TPM", "1000000"},
		{"WARN", "LLM_QUEUE_API_ALLOCATION_PERCENT", ""},
		{"INFO", "LLM_QUEUE_MAX_EMPTY_CYCLES", "5"},
	}
	for i, w := range want {
		l := lines[i]
		assert.Equal(t, w.level, l["level"], w.variable)
		assert.Equal(t, w.variable, l["variable"])
		assert.Contains(t, l["msg"], "llm-queue-task-manager")
		assert.NotEmpty(t, l["python"], w.variable)
		assert.NotEmpty(t, l["llmqueue"], w.variable)
		if w.value == "" {
			assert.NotContains(t, l, "value", "an unset variable has no value")
		} else {
			assert.Equal(t, w.value, l["value"])
		}
	}
	assert.Contains(t, lines[1]["llmqueue"], "LLM_QUEUE_API_ALLOCATION_PERCENT=40", "a warning says how to keep the Python budget")

	buf.Reset()
	LogMigrationNotes(logger, env{"LLM_QUEUE_TOTAL_TPM": "90000"}.lookup)
	assert.Empty(t, buf.String(), "a new deployment hears nothing")
}

func TestLogMigrationNotes_NilLoggerUsesTheDefault(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	LogMigrationNotes(nil, pythonEnv.lookup)
	assert.Equal(t, 4, strings.Count(buf.String(), "variable=LLM_QUEUE_"), buf.String())
}
