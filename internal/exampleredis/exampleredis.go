// Package exampleredis gives the runnable examples their Redis: the
// configured one, or an embedded in-process miniredis so that an example
// runs on a machine with no Redis installed.
package exampleredis

import (
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/llmqueue/llmqueue"
	"github.com/redis/go-redis/v9"
)

// Conn is an example's Redis connection.
type Conn struct {
	// Client is the connected client.
	Client redis.UniversalClient
	// Addr is the server's address (several, comma-separated, for a
	// cluster), for the example to print.
	Addr string
	// Embedded reports that Addr is an in-process miniredis whose data is
	// lost when the example exits.
	Embedded bool
	closeFn  func()
}

// Close closes the client and stops an embedded server.
func (c *Conn) Close() { c.closeFn() }

// Connect returns a client on cfg's Redis when configured is true, or
// else on a fresh embedded miniredis. Each example decides what counts as
// configured (REDIS_URL alone, or REDIS_HOST too).
func Connect(cfg llmqueue.Config, configured bool) (*Conn, error) {
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

// Describe says which Redis the example uses, for it to print; an
// embedded one is named as such because its data is lost on exit.
func (c *Conn) Describe() string {
	if c.Embedded {
		return "REDIS_URL not set: using an embedded in-process Redis (miniredis) at " + c.Addr
	}
	return "using Redis at " + c.Addr + " (from REDIS_URL)"
}
