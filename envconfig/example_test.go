package envconfig_test

import (
	"fmt"

	"github.com/llmqueue/llmqueue/envconfig"
)

// FromLookup reads the variables through any lookup (Load reads the
// process environment); the Config it returns holds the llmqueue.Config and
// llmqueue.WorkerConfig the constructors take.
func ExampleFromLookup() {
	env := map[string]string{
		"REDIS_URL":                       "redis://:s3cret@redis.internal:6379/0",
		"LLM_QUEUE_TOTAL_TPM":             "200000",
		"LLM_QUEUE_SAFETY_BUFFER_PERCENT": "5",
		"LLM_QUEUE_CONCURRENCY":           "16",
	}
	cfg, err := envconfig.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("usable tokens per minute:", cfg.Manager.Budget.UsableTokens())
	fmt.Println("concurrency:", cfg.Worker.Concurrency, "cycle:", cfg.Worker.Cycle)
	fmt.Println("redis:", cfg.Redis.URL) // printing a Config redacts the password; the field keeps it

	_, err = envconfig.FromLookup(func(k string) (string, bool) {
		if k == "LLM_QUEUE_CONCURRENCY" {
			return "many", true
		}
		return "", false
	})
	fmt.Println(err)
	// Output:
	// usable tokens per minute: 190000
	// concurrency: 16 cycle: 3,2,1
	// redis: redis://:s3cret@redis.internal:6379/0
	// llmqueue: LLM_QUEUE_CONCURRENCY="many": not an integer
}
