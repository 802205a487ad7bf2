package devredis_test

import (
	"context"
	"fmt"
	"github.com/llmqueue/llmqueue"

	"github.com/llmqueue/llmqueue/devredis"
	"github.com/llmqueue/llmqueue/envconfig"
)

// With no Redis configured, Connect starts an embedded one, and Describe
// says so.
func ExampleConnect() {
	cfg := envconfig.Default() // as envconfig.Load reads it with REDIS_URL unset
	conn, err := devredis.Connect(cfg, cfg.Redis.URL != "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	fmt.Println("embedded:", conn.Embedded)
	fmt.Println(conn.Client.Ping(context.Background()).Val())

	qm, err := llmqueue.NewQueueManager(conn.Client, nil)
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
