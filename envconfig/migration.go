package envconfig

import (
	"context"
	"log/slog"
	"strings"
)

// A MigrationNote tells someone moving an environment over from the
// Python package llm-queue-task-manager (0.1.3) that a variable does not
// do here what it did there: its default or its meaning changed.
type MigrationNote struct {
	// Variable is the environment variable's name.
	Variable string
	// Set reports whether the environment sets Variable; Value is its
	// value then. A note on an unset variable is about its default.
	Set   bool
	Value string
	// Python is what llm-queue-task-manager did with the variable, and
	// LLMQueue what llmqueue does with it.
	Python   string
	LLMQueue string
	// Level is slog.LevelWarn when llmqueue behaves differently from the
	// Python deployment the environment was written for (a default that
	// changed), slog.LevelInfo when the value keeps its effect or the
	// difference is harmless.
	Level slog.Level
}

// What llm-queue-task-manager and llmqueue do with each variable whose
// meaning or default differs.
var migrationNotes = []struct {
	name             string
	python, llmqueue string
	// unsetPython and unsetLLMQueue, when not empty, make a note for an
	// environment that does not set the variable: its default changed.
	unsetPython, unsetLLMQueue string
}{
	{
		name:     envTotalTPM,
		python:   "tokens per calendar minute (one counter per clock minute), default 1,000,000",
		llmqueue: "tokens per sliding LLM_QUEUE_WINDOW (default 1m) in a ledger shared by every process; default 0, no limit",
		unsetPython: "unset meant 1,000,000 tokens per minute " +
			"(360,000 usable: 40% allocation less the 10% safety buffer)",
		unsetLLMQueue: "unset means no token limit; set LLM_QUEUE_TOTAL_TPM=1000000 and " +
			"LLM_QUEUE_API_ALLOCATION_PERCENT=40 to keep the Python budget",
	},
	{
		name:     envAllocation,
		python:   "share of LLM_QUEUE_TOTAL_TPM the queue may use, less a fixed 10% safety buffer; default 40",
		llmqueue: "the same share, of every limit (TPM, RPM, ...), less LLM_QUEUE_SAFETY_BUFFER_PERCENT (default 10); default 100",
		unsetPython: "unset meant 40% of LLM_QUEUE_TOTAL_TPM; the rest was kept " +
			"for direct API traffic",
		unsetLLMQueue: "unset means 100%: the queue may use the whole limit; set " +
			"LLM_QUEUE_API_ALLOCATION_PERCENT=40 to keep the Python share",
	},
	{
		name: envMaxEmptyCycles,
		python: "full 3-2-1 cycles without a request after which the processor " +
			"sleeps 5s instead of 1s (and may report idle); default 5",
		llmqueue: "empty lease calls in a row after which BatchProcessor.Status " +
			"reports health_status idle; polling does not change (an idle worker " +
			"backs off to 1s and wakes at once on Add); default 3",
	},
	{
		name: envQuotaWait,
		python: "whole seconds to sleep when the token budget is exhausted, " +
			"before trying again; default 65",
		llmqueue: "the longest single sleep while the budget is short; the sleep " +
			"itself is the time the lease script computes until the budget has " +
			"room; Go durations (\"90s\") or whole seconds; default 60s",
	},
}

// MigrationNotes returns a note for each variable in lookup's environment
// whose meaning or default differs from llm-queue-task-manager's:
// LLM_QUEUE_TOTAL_TPM, LLM_QUEUE_API_ALLOCATION_PERCENT,
// LLM_QUEUE_MAX_EMPTY_CYCLES and LLM_QUEUE_QUOTA_WAIT_DURATION when they
// are set, and LLM_QUEUE_TOTAL_TPM and LLM_QUEUE_API_ALLOCATION_PERCENT
// when they are not (their Python defaults, 1,000,000 and 40%, gave a
// budget that llmqueue's, no limit and 100%, does not).
//
// It returns nil for an environment that was not written for the Python
// package, so a new deployment logs nothing: one is taken to be written
// for it when it sets LLM_QUEUE_MAX_EMPTY_CYCLES, or
// LLM_QUEUE_QUOTA_WAIT_DURATION as a bare number (the only form Python
// reads). lookup answers like os.LookupEnv; a blank value counts as unset,
// as in FromLookup.
func MigrationNotes(lookup func(string) (string, bool)) []MigrationNote {
	if lookup == nil {
		return nil
	}
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	_, emptyCycles := get(envMaxEmptyCycles)
	wait, waitSet := get(envQuotaWait)
	if !emptyCycles && !(waitSet && isWholeNumber(wait)) {
		return nil
	}
	var notes []MigrationNote
	for _, m := range migrationNotes {
		v, set := get(m.name)
		switch {
		case set:
			notes = append(notes, MigrationNote{Variable: m.name, Set: true, Value: v,
				Python: m.python, LLMQueue: m.llmqueue, Level: slog.LevelInfo})
		case m.unsetPython != "":
			notes = append(notes, MigrationNote{Variable: m.name,
				Python: m.unsetPython, LLMQueue: m.unsetLLMQueue, Level: slog.LevelWarn})
		}
	}
	return notes
}

// isWholeNumber reports whether s is an optionally signed run of digits,
// as Python's int() reads it.
func isWholeNumber(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// LogMigrationNotes logs MigrationNotes(lookup) on logger (slog.Default()
// when nil), one line per note at its Level. Call it once at start-up,
// beside Load:
//
//	cfg, err := llmqueue.Load()
//	...
//	llmqueue.LogMigrationNotes(logger, os.LookupEnv)
func LogMigrationNotes(logger *slog.Logger, lookup func(string) (string, bool)) {
	if logger == nil {
		logger = slog.Default()
	}
	for _, n := range MigrationNotes(lookup) {
		msg := "environment variable means something else than in llm-queue-task-manager"
		attrs := []slog.Attr{slog.String("variable", n.Variable)}
		if n.Set {
			attrs = append(attrs, slog.String("value", n.Value))
		} else {
			msg = "environment variable unset: llm-queue-task-manager's default no longer applies"
		}
		attrs = append(attrs, slog.String("python", n.Python), slog.String("llmqueue", n.LLMQueue))
		logger.LogAttrs(context.Background(), n.Level, msg, attrs...)
	}
}
