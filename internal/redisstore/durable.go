package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// durableMarkerTTL keeps the marker key from outliving its use.
const durableMarkerTTL = 10 * time.Minute

// WaitError is why WaitDurable could not confirm. Unsupported means the
// server or client cannot confirm at all (waiting longer would not help):
// no WAITAOF before Redis 7.2, appendonly off, a replica, a client type
// that cannot send WAIT on the connection of a write, a timeout the
// client's ReadTimeout would cut off.
type WaitError struct {
	Unsupported bool
	Err         error
}

// Error returns the cause's text.
func (e *WaitError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *WaitError) Unwrap() error { return e.Err }

// WaitDurable confirms, for the writes the master of the namespace has
// applied so far (which include an add script that has just answered),
// that replicas replicas acknowledged them and, with aof, that the master
// fsynced them to its AOF. It returns the local fsyncs (0 without aof) and
// the replicas that acknowledged within timeout, or a *WaitError.
//
// WAIT and WAITAOF count the acknowledgements of the writes made by their
// own connection (the offset of its last write), not the server's: sent
// on another pooled connection they would wait for nothing and answer at
// once. The add script ran on some pooled connection, so WaitDurable makes
// a write of its own, a SET of the namespace's marker key (Keys.Durable)
// to marker, and sends it and the WAIT in one pipeline, which go-redis
// writes to a single connection (and, on a retry after a network error,
// resends whole to another). The SET is applied after the add script on
// the same master, so its offset covers the script's writes, and so does
// the WAIT.
//
// On Redis Cluster WAIT has no key, and a ClusterClient would send it to
// a random node: the pipeline goes to the client of the marker's master
// (MasterForKey), the master that holds the namespace's slot. A failover
// between the add script and the pipeline is not seen: the new master
// confirms its own writes, which may lack the request.
func (s *Store) WaitDurable(ctx context.Context, marker string, replicas int, aof bool, timeout time.Duration) (local, acked int, err error) {
	key := s.keys.Durable
	node, err := masterFor(ctx, s.rdb, key)
	if err != nil {
		return -1, -1, &WaitError{Unsupported: true, Err: err}
	}
	if rt := node.Options().ReadTimeout; rt > 0 && timeout >= rt {
		// The pipeline's reply is read under ReadTimeout: WAIT would be cut
		// off before it could answer.
		return -1, -1, &WaitError{Unsupported: true,
			Err: fmt.Errorf("timeout %s is not below the client's ReadTimeout %s", timeout, rt)}
	}
	var set *redis.StatusCmd
	var wait *redis.Cmd
	_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
		set = p.Set(ctx, key, marker, durableMarkerTTL)
		if aof {
			wait = p.Do(ctx, "WAITAOF", 1, replicas, timeout.Milliseconds())
		} else {
			wait = p.Do(ctx, "WAIT", replicas, timeout.Milliseconds())
		}
		return nil
	})
	if err := set.Err(); err != nil {
		return -1, -1, &WaitError{Err: fmt.Errorf("marker write: %w", err)}
	}
	if err := wait.Err(); err != nil {
		return -1, -1, &WaitError{Unsupported: unsupportedReply(err), Err: err}
	}
	local, acked, err = parseWaitReply(wait.Val(), aof)
	if err != nil {
		return -1, -1, &WaitError{Err: err}
	}
	return local, acked, nil
}

// masterFor returns a client whose pipelines reach the master that holds
// key on one connection: the client itself for a single node or a
// Sentinel failover client (*redis.Client both), the node's client for a
// Cluster.
func masterFor(ctx context.Context, rdb redis.UniversalClient, key string) (*redis.Client, error) {
	switch c := rdb.(type) {
	case *redis.Client:
		return c, nil
	case interface {
		MasterForKey(context.Context, string) (*redis.Client, error)
	}:
		node, err := c.MasterForKey(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("finding the master of %s: %w", key, err)
		}
		return node, nil
	}
	return nil, fmt.Errorf("a %T cannot send WAIT on the connection of a write; use a *redis.Client, a failover client or a *redis.ClusterClient", rdb)
}

// unsupportedReply reports the error replies that mean the server cannot
// confirm at all, so waiting longer would not help.
func unsupportedReply(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := strings.ToLower(re.Error())
	return strings.Contains(msg, "unknown command") || // WAITAOF before Redis 7.2
		strings.Contains(msg, "appendonly is disabled") || // WAITAOF numlocal without AOF
		strings.Contains(msg, "replica instance") // connected to a replica
}

// parseWaitReply reads WAIT's integer (replicas) or WAITAOF's pair (local
// fsyncs, replicas), checking the reply's type.
func parseWaitReply(v any, aof bool) (local, replicas int, err error) {
	if !aof {
		n, ok := v.(int64)
		if !ok {
			return -1, -1, fmt.Errorf("WAIT answered %T %v, want an integer", v, v)
		}
		return 0, int(n), nil
	}
	pair, ok := v.([]any)
	if ok && len(pair) == 2 {
		l, lok := pair[0].(int64)
		r, rok := pair[1].(int64)
		if lok && rok {
			return int(l), int(r), nil
		}
	}
	return -1, -1, fmt.Errorf("WAITAOF answered %T %v, want two integers", v, v)
}
