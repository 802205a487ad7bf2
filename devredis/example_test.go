package devredis_test

import (
	"context"
	"fmt"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/devredis"
)

// With no Redis configured, Connect starts an embedded one, and Describe
// says so.
func ExampleConnect() {
	cfg := llmqueue.DefaultConfig() // as llmqueue.ConfigFromEnv reads it with REDIS_URL unset
	conn, err := devredis.Connect(cfg, cfg.RedisURL != "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	fmt.Println("embedded:", conn.Embedded)
	fmt.Println(conn.Client.Ping(context.Background()).Val())

	qm, err := llmqueue.NewQueueManager(conn.Client)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer qm.Close()
	fmt.Println("namespace:", qm.Namespace())
	// Output:
	// embedded: true
	// PONG
	// namespace: default
}
