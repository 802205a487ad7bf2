// Package devredis gives a program under development its Redis: the one
// the configuration names, or else an embedded in-process miniredis, so the
// program runs on a machine with no Redis installed. The runnable examples
// use it, so an example copied out of this repository still compiles:
//
//	cfg, err := envconfig.Load()
//	conn, err := devredis.Connect(cfg, cfg.Redis.URL != "")
//	defer conn.Close()
//	fmt.Println(conn.Describe()) // says when the Redis is embedded
//	qm, err := llmqueue.NewQueueManager(conn.Client, &cfg.Manager)
//
// An embedded Redis lives in the process and loses its data when the
// process exits, and no other process can share it unless it is given
// Addr: it is for demos and development, not for production. To test code
// built on llmqueue, use package llmqueuetest.
package devredis

import (
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/redis/go-redis/v9"
)

// Conn is a program's Redis connection.
type Conn struct {
	// Client is the connected client.
	Client redis.UniversalClient
	// Addr is the server's address (several, comma-separated, for a
	// cluster), for the program to print.
	Addr string
	// Embedded reports that Addr is an in-process miniredis whose data is
	// lost when the program exits.
	Embedded bool
	closeFn  func()
}

// Close closes the client and stops an embedded server.
func (c *Conn) Close() { c.closeFn() }

// Connect returns a client on cfg's Redis (llmqueue.Config.RedisOptions)
// when configured is true, or else on a fresh embedded miniredis listening
// on a free loopback port. The caller decides what counts as configured:
// REDIS_URL alone (cfg.Redis.URL != ""), or REDIS_HOST too. Connect does not
// dial: a configured Redis that does not answer shows at the first command,
// so a caller that wants to fall back to an embedded Redis pings first.
func Connect(cfg envconfig.Config, configured bool) (*Conn, error) {
	if configured {
		o, err := cfg.RedisOptions()
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		rdb := redis.NewUniversalClient(o)
		return &Conn{Client: rdb, Addr: strings.Join(o.Addrs, ","), closeFn: func() { _ = rdb.Close() }}, nil
	}
	mr, err := miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("embedded miniredis: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return &Conn{Client: rdb, Addr: mr.Addr(), Embedded: true, closeFn: func() { _ = rdb.Close(); mr.Close() }}, nil
}

// Describe says which Redis the program uses, for it to print; an
// embedded one is named as such because its data is lost on exit.
func (c *Conn) Describe() string {
	if c.Embedded {
		return "REDIS_URL not set: using an embedded in-process Redis (miniredis) at " + c.Addr
	}
	return "using Redis at " + c.Addr + " (from REDIS_URL)"
}
