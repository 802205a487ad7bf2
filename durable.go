package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Durability says what an Add waits for, beyond Redis's own persistence
// settings, before it reports success. By default Add answers as soon as
// the master has applied the write, which is in its memory only: with
// appendfsync everysec a crash of the master can lose about the last
// second of Adds, and an asynchronous failover whatever the replica had
// not yet received (see the README's "Durability"). WithDurableAdd makes
// Add wait until the write is where Durability asks, or report that it
// could not confirm it.
//
// Durability is confirmed with WAIT or WAITAOF after the add script has
// run: a confirmed Add survives what its Durability survives, and an
// unconfirmed one is still queued (see DurabilityError).
type Durability struct {
	// Replicas is how many replicas must have the write before Add
	// answers. 0 asks for none (then AOF must be set).
	Replicas int
	// AOF counts a write only once it is fsynced to an append-only file:
	// the master's own, and each of the Replicas'. It uses WAITAOF, which
	// needs Redis 7.2 or later and appendonly yes (on the master, and on
	// the replicas that count). Without AOF, a replica counts once the
	// write is in its memory (WAIT), which survives a crash of the master
	// but not of both.
	AOF bool
	// Timeout bounds the wait. Defaults to DefaultDurableTimeout. It must
	// be below the manager's op timeout, which bounds the whole Add, and
	// below the client's ReadTimeout (3 s by default in go-redis).
	Timeout time.Duration
}

// DefaultDurableTimeout is Durability.Timeout's default.
const DefaultDurableTimeout = time.Second

// Errors a DurabilityError matches, so callers can tell a Redis that
// cannot confirm durability at all from one that did not in time.
var (
	// ErrNotDurable means the write was not confirmed within the timeout:
	// fewer replicas (or no local fsync) acknowledged it, or the wait
	// itself failed.
	ErrNotDurable = errors.New("durability not confirmed")
	// ErrDurabilityUnsupported means this Redis or client cannot confirm
	// the Durability asked for: WAITAOF is missing (Redis before 7.2),
	// appendonly is off, or the client cannot pin the write's connection.
	ErrDurabilityUnsupported = errors.New("durability not supported by this Redis")
)

// DurabilityError reports requests that Add stored but whose Durability
// was not confirmed. The requests are queued and will run like any other;
// what is not known is whether they would survive a crash or failover
// right now. A caller that must not go on without durability can Cancel
// them by IDs, or wait and ask CheckDurability. It matches ErrNotDurable
// or ErrDurabilityUnsupported, and the Redis error if there was one, with
// errors.Is.
type DurabilityError struct {
	// IDs are the stored requests (none from CheckDurability).
	IDs []string
	// Want is what was asked for.
	Want Durability
	// Local and Replicas are the acknowledgements received: the master's
	// AOF fsync (0 or 1) and the replicas'. -1 means unknown, when the wait
	// itself failed.
	Local, Replicas int
	// Kind is ErrNotDurable or ErrDurabilityUnsupported.
	Kind error
	// Err is the Redis error or the reason, or nil when Redis answered
	// with too few acknowledgements.
	Err error
}

// Error says what was stored and what was not confirmed.
func (e *DurabilityError) Error() string {
	var b strings.Builder
	b.WriteString("llmqueue: ")
	if len(e.IDs) > 0 {
		fmt.Fprintf(&b, "add %s", e.IDs[0])
		if len(e.IDs) > 1 {
			fmt.Fprintf(&b, " and %d more", len(e.IDs)-1)
		}
		b.WriteString(": stored and queued, but ")
	}
	fmt.Fprintf(&b, "%s (want %s", e.Kind, e.Want)
	if e.Local >= 0 && e.Replicas >= 0 {
		fmt.Fprintf(&b, "; got %d replicas", e.Replicas)
		if e.Want.AOF {
			fmt.Fprintf(&b, ", local fsync %d", e.Local)
		}
	}
	b.WriteString(")")
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns Kind and, when there is one, Err.
func (e *DurabilityError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// String describes the Durability as the command that confirms it.
func (d Durability) String() string {
	if d.AOF {
		return fmt.Sprintf("WAITAOF 1 %d within %s", d.Replicas, d.Timeout)
	}
	return fmt.Sprintf("WAIT %d within %s", d.Replicas, d.Timeout)
}

// resolve applies the default timeout and checks d against the manager's
// op timeout. A nil d (no WithDurableAdd) stays nil.
func (d *Durability) resolve(opTimeout time.Duration) (*Durability, error) {
	if d == nil {
		return nil, nil
	}
	r := *d
	if r.Timeout == 0 {
		r.Timeout = DefaultDurableTimeout
	}
	switch {
	case r.Replicas < 0:
		return nil, fmt.Errorf("llmqueue: durable add: %d replicas: must be >= 0", r.Replicas)
	case r.Replicas == 0 && !r.AOF:
		return nil, errors.New("llmqueue: durable add: asks for nothing: set Replicas, AOF or both")
	case r.Timeout < time.Millisecond:
		return nil, fmt.Errorf("llmqueue: durable add: timeout %s: must be at least 1ms", r.Timeout)
	case r.Timeout >= opTimeout:
		return nil, fmt.Errorf("llmqueue: durable add: timeout %s: must be below the op timeout %s, which bounds the whole Add",
			r.Timeout, opTimeout)
	}
	return &r, nil
}

// confirmDurable waits for the durability WithDurableAdd asks for, once
// the add script has stored ids. Without WithDurableAdd it does nothing.
func (q *QueueManager) confirmDurable(ctx context.Context, ids []string) error {
	d := q.cfg.durable
	if d == nil {
		return nil
	}
	if err := waitDurable(ctx, q.store.Client(), q.durableKey(), ids, *d); err != nil {
		err.IDs = ids
		return err
	}
	return nil
}

// CheckDurability confirms once, with nothing added, that Redis gives
// what WithDurableAdd asks for, so a deployment can learn at start-up
// (rather than from its first Add) that its Redis is older than 7.2,
// runs without appendonly, or has too few replicas. It returns nil
// without WithDurableAdd, else nil or a *DurabilityError. It talks to
// Redis; NewQueueManager does not.
func (q *QueueManager) CheckDurability(ctx context.Context) error {
	d := q.cfg.durable
	if d == nil {
		return nil
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	if err := waitDurable(ctx, q.store.Client(), q.durableKey(), nil, *d); err != nil {
		return err
	}
	return nil
}

// durableKey is the namespace's marker key: waitDurable writes it so that
// its WAIT has a write of its own connection to wait for. It shares the
// namespace's hash tag, so on Redis Cluster it lives on the master that
// holds the requests.
func (q *QueueManager) durableKey() string { return q.store.Keys().Prefix + "durable" }

// durableMarkerTTL keeps the marker key from outliving its use.
const durableMarkerTTL = 10 * time.Minute

// waitDurable confirms d for the writes the master holding key has
// applied so far, which include the add script that has just answered.
//
// WAIT and WAITAOF count the acknowledgements of the writes made by their
// own connection (the offset of its last write), not the server's: sent
// on another pooled connection they would wait for nothing and answer at
// once. The add script ran on some pooled connection that the store does
// not expose, so waitDurable makes a write of its own, a SET of key, and
// sends it and the WAIT in one pipeline, which go-redis writes to a single
// connection (and, on a retry after a network error, resends whole to
// another). The SET is applied after the add script on the same master,
// so its offset covers the script's writes, and so does the WAIT.
//
// On Redis Cluster WAIT has no key, and a ClusterClient would send it to
// a random node: the pipeline goes to the client of key's master
// (MasterForKey) instead, the master that holds the namespace's slot. A
// failover between the add script and the pipeline is not seen: the new
// master confirms its own writes, which may lack the request (Status
// tells).
func waitDurable(ctx context.Context, rdb redis.UniversalClient, key string, ids []string, d Durability) *DurabilityError {
	fail := func(kind error, local, replicas int, err error) *DurabilityError {
		return &DurabilityError{Want: d, Kind: kind, Local: local, Replicas: replicas, Err: err}
	}
	node, err := masterFor(ctx, rdb, key)
	if err != nil {
		return fail(ErrDurabilityUnsupported, -1, -1, err)
	}
	if rt := node.Options().ReadTimeout; rt > 0 && d.Timeout >= rt {
		// The pipeline's reply is read under ReadTimeout: WAIT would be cut
		// off before it could answer.
		return fail(ErrDurabilityUnsupported, -1, -1,
			fmt.Errorf("timeout %s is not below the client's ReadTimeout %s", d.Timeout, rt))
	}
	marker := "check"
	if len(ids) > 0 {
		marker = ids[len(ids)-1]
	}
	var set *redis.StatusCmd
	var wait *redis.Cmd
	_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
		set = p.Set(ctx, key, marker, durableMarkerTTL)
		if d.AOF {
			wait = p.Do(ctx, "WAITAOF", 1, d.Replicas, d.Timeout.Milliseconds())
		} else {
			wait = p.Do(ctx, "WAIT", d.Replicas, d.Timeout.Milliseconds())
		}
		return nil
	})
	if err := set.Err(); err != nil {
		return fail(ErrNotDurable, -1, -1, fmt.Errorf("marker write: %w", storeErr(err)))
	}
	if err := wait.Err(); err != nil {
		if unsupportedReply(err) {
			return fail(ErrDurabilityUnsupported, -1, -1, err)
		}
		return fail(ErrNotDurable, -1, -1, storeErr(err))
	}
	local, replicas, err := parseWaitReply(wait.Val(), d.AOF)
	if err != nil {
		return fail(ErrNotDurable, -1, -1, err)
	}
	if replicas < d.Replicas || (d.AOF && local < 1) {
		return fail(ErrNotDurable, local, replicas, nil)
	}
	return nil
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
