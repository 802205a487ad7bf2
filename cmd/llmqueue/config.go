package main

import (
	"log/slog"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/redis/go-redis/v9"
)

// conn is an open QueueManager and what closes it.
type conn struct {
	qm    *llmqueue.QueueManager
	close func()
}

// connect builds a QueueManager from the environment (envconfig.FromLookup,
// as the library's processes read it) with --redis-url and --namespace on
// top. A bad variable, URL or namespace is a usage error; connect does not
// dial, so an unreachable Redis shows up on the first command.
func (a *app) connect() (*conn, error) {
	cfg, err := envconfig.FromLookup(a.lookup)
	if err != nil {
		return nil, &usageError{msg: "environment: " + err.Error()}
	}
	if a.redisURL != "" {
		cfg.Redis.URL = a.redisURL // the URL wins over host, port and DB
	}
	if a.namespace != "" {
		cfg.Manager.Namespace = a.namespace
	}
	// The library's warnings (not its info logs) go to stderr, as text.
	cfg.Manager.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts, err := cfg.RedisOptions()
	if err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	// One retry, not go-redis's three with backoff: a person or a script is
	// waiting, and an unreachable Redis should say so at once.
	opts.MaxRetries = 1
	rdb := redis.NewUniversalClient(opts)
	qm, err := llmqueue.NewQueueManager(rdb, &cfg.Manager)
	if err != nil {
		_ = rdb.Close()
		return nil, &usageError{msg: err.Error()}
	}
	return &conn{qm: qm, close: func() {
		_ = qm.Close()
		_ = rdb.Close()
	}}, nil
}
