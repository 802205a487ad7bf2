package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/llmqueue/llmqueue/envconfig"
)

// pythonVars are the variables llm-queue-task-manager 0.1.3 reads, in its
// README's order, with the Kubernetes fallbacks its RedisConfig reads.
var pythonVars = []string{
	"REDIS_HOST", "REDIS_PORT", "REDIS_SERVICE_HOST", "REDIS_SERVICE_PORT", "REDIS_DB",
	"REDIS_PASSWORD", "REDIS_MAX_CONNECTIONS",
	"LLM_QUEUE_TOTAL_TPM", "LLM_QUEUE_API_ALLOCATION_PERCENT",
	"LLM_QUEUE_BATCH_LOW_COUNT", "LLM_QUEUE_BATCH_MEDIUM_COUNT", "LLM_QUEUE_BATCH_LONG_COUNT",
	"LLM_QUEUE_MAX_EMPTY_CYCLES", "LLM_QUEUE_QUOTA_WAIT_DURATION",
}

// pythonDefaults are llm-queue-task-manager's defaults for the numbers.
var pythonDefaults = map[string]string{
	"REDIS_PORT": "6379", "REDIS_DB": "0", "REDIS_MAX_CONNECTIONS": "20",
	"LLM_QUEUE_TOTAL_TPM": "1000000", "LLM_QUEUE_API_ALLOCATION_PERCENT": "40",
	"LLM_QUEUE_BATCH_LOW_COUNT": "3", "LLM_QUEUE_BATCH_MEDIUM_COUNT": "2", "LLM_QUEUE_BATCH_LONG_COUNT": "1",
	"LLM_QUEUE_MAX_EMPTY_CYCLES": "5", "LLM_QUEUE_QUOTA_WAIT_DURATION": "65",
}

// pythonUses says what llm-queue-task-manager made of a variable of f.
func pythonUses(f envFile, name string) string {
	v, set := f.lookup(name)
	switch name {
	case "REDIS_HOST":
		if set {
			return v
		}
		if h, ok := f.lookup("REDIS_SERVICE_HOST"); ok {
			return h
		}
		return "localhost"
	case "REDIS_PORT":
		if !set {
			v, set = f.lookup("REDIS_SERVICE_PORT")
		}
		if !set {
			v = pythonDefaults[name]
		}
		return pyInt(v)
	case "REDIS_SERVICE_HOST", "REDIS_SERVICE_PORT":
		other := "REDIS_" + strings.TrimPrefix(name, "REDIS_SERVICE_")
		if _, ok := f.lookup(other); !set || ok {
			return "(not used)"
		}
		return v
	case "REDIS_PASSWORD":
		if set {
			return "xxxxx"
		}
		return "(none)"
	}
	if !set {
		v = pythonDefaults[name]
	}
	switch name {
	case "LLM_QUEUE_TOTAL_TPM":
		return pyInt(v) + " per calendar minute"
	case "LLM_QUEUE_API_ALLOCATION_PERCENT":
		if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return "ValueError: fails at start-up"
		}
		return strings.TrimSpace(v) + "%"
	case "LLM_QUEUE_MAX_EMPTY_CYCLES":
		return pyInt(v) + " empty cycles, then a 5s sleep"
	case "LLM_QUEUE_QUOTA_WAIT_DURATION":
		return pyInt(v) + "s fixed sleep"
	}
	return pyInt(v)
}

// pyInt is what Python's int() makes of v.
func pyInt(v string) string {
	n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(v), "_", ""))
	if err != nil {
		return "ValueError: fails at start-up"
	}
	return strconv.Itoa(n)
}

// llmqueueUses says what llmqueue makes of a variable of f, from cfg,
// which envconfig.FromLookup read from f.
func llmqueueUses(f envFile, cfg envconfig.Config, name string) string {
	v, set := f.lookup(name)
	urlWins := func(s string) string {
		if cfg.Redis.URL != "" {
			return "(REDIS_URL wins)"
		}
		return s
	}
	switch name {
	case "REDIS_URL":
		return "wins over host, port and DB"
	case "REDIS_HOST":
		return urlWins(cfg.Redis.Host)
	case "REDIS_PORT":
		return urlWins(strconv.Itoa(cfg.Redis.Port))
	case "REDIS_SERVICE_HOST":
		_, hostSet := f.lookup("REDIS_HOST")
		port, _ := f.lookup("REDIS_PORT")
		if !set || hostSet || strings.Contains(port, "://") {
			return "(not used)"
		}
		return urlWins(cfg.Redis.Host)
	case "REDIS_SERVICE_PORT":
		if _, portSet := f.lookup("REDIS_PORT"); !set || portSet {
			return "(not used)"
		}
		return urlWins(strconv.Itoa(cfg.Redis.Port))
	case "REDIS_DB":
		return urlWins(strconv.Itoa(cfg.Redis.DB))
	case "REDIS_PASSWORD":
		if set {
			return "xxxxx"
		}
		return "(none)"
	case "REDIS_MAX_CONNECTIONS":
		if cfg.Redis.MaxConnections == 0 {
			return "go-redis default (10 per CPU)"
		}
		return strconv.Itoa(cfg.Redis.MaxConnections)
	case "LLM_QUEUE_TOTAL_TPM":
		if cfg.Manager.Budget.TPM == 0 {
			return "0: no token limit"
		}
		return fmt.Sprintf("%d per sliding %s", cfg.Manager.Budget.TPM, cfg.Manager.Budget.Window)
	case "LLM_QUEUE_API_ALLOCATION_PERCENT":
		return strconv.FormatFloat(cfg.Manager.Budget.APIAllocationPercent, 'g', -1, 64) + "%"
	case "LLM_QUEUE_SAFETY_BUFFER_PERCENT":
		return strconv.FormatFloat(cfg.Manager.Budget.SafetyBufferPercent, 'g', -1, 64) + "%"
	case "LLM_QUEUE_BATCH_LOW_COUNT":
		return strconv.Itoa(cfg.Worker.Cycle.Low)
	case "LLM_QUEUE_BATCH_MEDIUM_COUNT":
		return strconv.Itoa(cfg.Worker.Cycle.Medium)
	case "LLM_QUEUE_BATCH_LONG_COUNT":
		return strconv.Itoa(cfg.Worker.Cycle.Long)
	case "LLM_QUEUE_MAX_EMPTY_CYCLES":
		return fmt.Sprintf("%d empty lease calls, then Status says idle", cfg.Worker.MaxEmptyCycles)
	case "LLM_QUEUE_QUOTA_WAIT_DURATION":
		return fmt.Sprintf("%s cap on one computed wait", cfg.Worker.MaxBudgetWait)
	case "LLM_QUEUE_WINDOW":
		return cfg.Manager.Budget.Window.String()
	case "LLM_QUEUE_CONCURRENCY":
		return strconv.Itoa(cfg.Worker.Concurrency)
	case "LLM_QUEUE_NAMESPACE":
		return cfg.Manager.Namespace
	case "LLM_QUEUE_RETENTION":
		return cfg.Manager.Retention.String()
	case "LLM_QUEUE_OP_TIMEOUT":
		return cfg.Manager.OpTimeout.String()
	}
	if strings.HasPrefix(name, "LLM_QUEUE_TOTAL_") || strings.HasPrefix(name, "REDIS_TLS_") {
		return v
	}
	return "(not read)"
}

// printTable writes one line per variable: the Python package's, then the
// file's others.
func printTable(out io.Writer, f envFile, cfg envconfig.Config) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "variable\tin the file\tllm-queue-task-manager used\tllmqueue uses")
	row := func(name, python string) {
		v, set := f.lookup(name)
		switch {
		case !set:
			v = "(unset)"
		case name == "REDIS_PASSWORD":
			v = "xxxxx"
		case name == "REDIS_URL":
			if u, err := url.Parse(v); err == nil {
				v = u.Redacted()
			} else {
				v = "(set; not a URL)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, v, python, llmqueueUses(f, cfg, name))
	}
	known := map[string]bool{}
	for _, name := range pythonVars {
		known[name] = true
		row(name, pythonUses(f, name))
	}
	for _, name := range f.names {
		if !known[name] {
			row(name, "(not read)")
		}
	}
	return tw.Flush()
}

// pythonUsable is the token budget llm-queue-task-manager admitted per
// calendar minute: TPM x allocation, less a 10% buffer of the allocation.
func pythonUsable(f envFile) (int64, bool) {
	tpm, err1 := strconv.ParseInt(pyInt(valueOr(f, "LLM_QUEUE_TOTAL_TPM")), 10, 64)
	pct, err2 := strconv.ParseFloat(strings.TrimSpace(valueOr(f, "LLM_QUEUE_API_ALLOCATION_PERCENT")), 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	alloc := int64(float64(tpm) * pct / 100)
	return alloc - int64(float64(alloc)*0.1), true
}

func valueOr(f envFile, name string) string {
	if v, ok := f.lookup(name); ok {
		return v
	}
	return pythonDefaults[name]
}
