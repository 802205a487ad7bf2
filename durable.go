package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// Durability is what Add waits for before it reports success, set in
// Config.Durability. An Add not confirmed within Timeout fails with a
// *DurabilityError, but its requests are queued.
type Durability struct {
	Replicas int           // replicas that must have the write (0: none, then set AOF)
	AOF      bool          // also wait for AOF fsyncs (WAITAOF: Redis 7.2+, appendonly yes)
	Timeout  time.Duration // default 1s; below the op timeout and the client's ReadTimeout
}

// defaultDurableTimeout is Durability.Timeout's default.
const defaultDurableTimeout = time.Second

// Errors a DurabilityError matches.
var (
	ErrNotDurable            = errors.New("durability not confirmed")               // too few acks, or the wait failed
	ErrDurabilityUnsupported = errors.New("durability not supported by this Redis") // WAITAOF missing or appendonly off
)

// DurabilityError reports requests Add stored and queued, but whose Durability
// was not confirmed. It matches Kind and, when set, Err.
type DurabilityError struct {
	IDs             []string   // the stored requests; none from CheckDurability
	Want            Durability // what was asked for
	Local, Replicas int        // acks: the master's fsync (0 or 1), the replicas'; -1 if unknown
	Kind            error      // ErrNotDurable or ErrDurabilityUnsupported
	Err             error      // the Redis error or reason; nil when too few acked
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

// String describes d as the command that confirms it, e.g. "WAIT 1 within 1s".
func (d Durability) String() string {
	if d.AOF {
		return fmt.Sprintf("WAITAOF 1 %d within %s", d.Replicas, d.Timeout)
	}
	return fmt.Sprintf("WAIT %d within %s", d.Replicas, d.Timeout)
}

// resolve applies the default timeout and checks d against the manager's
// op timeout. A nil d (a zero Config.Durability) stays nil.
//
// Why Durability exists: by default Add answers as soon as the master has
// applied the write, which is in its memory only. With appendfsync everysec
// a crash of the master can lose about the last second of Adds, and an
// asynchronous failover whatever the replica had not yet received (see the
// README's "Durability"). Durability is confirmed with WAIT or WAITAOF after
// the add script has run: a confirmed Add survives what its Durability
// survives, and an unconfirmed one is still queued. Without AOF a replica
// counts once the write is in its memory (WAIT), which survives a crash of
// the master but not of both. The timeout must stay below the op timeout,
// which bounds the whole Add, and below the client's ReadTimeout (3s by
// default in go-redis).
func (d *Durability) resolve(opTimeout time.Duration) (*Durability, error) {
	if d == nil {
		return nil, nil
	}
	r := *d
	if r.Timeout == 0 {
		r.Timeout = defaultDurableTimeout
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

// confirmDurable waits for the durability Config.Durability asks for, once
// the add script has stored ids. Without it, it does nothing.
func (q *QueueManager) confirmDurable(ctx context.Context, ids []string) error {
	d := q.cfg.durable
	if d == nil {
		return nil
	}
	if err := q.waitDurable(ctx, ids, *d); err != nil {
		err.IDs = ids
		return err
	}
	return nil
}

// CheckDurability confirms once, adding nothing, that Redis gives what
// Config.Durability asks: nil if so or unset, else a *DurabilityError.
func (q *QueueManager) CheckDurability(ctx context.Context) error {
	// It exists so a deployment learns at start-up, rather than from its
	// first Add, that its Redis is older than 7.2, runs without appendonly,
	// or has too few replicas: NewQueueManager does not talk to Redis.
	d := q.cfg.durable
	if d == nil {
		return nil
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	if err := q.waitDurable(ctx, nil, *d); err != nil {
		return err
	}
	return nil
}

// waitDurable confirms d for the writes the namespace's master has
// applied so far (see redisstore.Store.WaitDurable), marking the check
// with the last of ids. ErrDurabilityUnsupported means WAITAOF is missing
// (Redis before 7.2), appendonly is off, or the client cannot pin the
// write's connection; ErrNotDurable that fewer replicas (or no local fsync)
// acknowledged within the timeout, or that the wait itself failed, when
// Local and Replicas are -1. A caller that must not go on without
// durability can Cancel the IDs, or wait and ask CheckDurability.
func (q *QueueManager) waitDurable(ctx context.Context, ids []string, d Durability) *DurabilityError {
	fail := func(kind error, local, replicas int, err error) *DurabilityError {
		return &DurabilityError{Want: d, Kind: kind, Local: local, Replicas: replicas, Err: err}
	}
	marker := "check"
	if len(ids) > 0 {
		marker = ids[len(ids)-1]
	}
	local, replicas, err := q.store.WaitDurable(ctx, marker, d.Replicas, d.AOF, d.Timeout)
	if err != nil {
		var we *redisstore.WaitError
		if errors.As(err, &we) && we.Unsupported {
			return fail(ErrDurabilityUnsupported, -1, -1, we.Err)
		}
		if errors.As(err, &we) {
			err = we.Err
		}
		return fail(ErrNotDurable, -1, -1, storeErr(err))
	}
	if replicas < d.Replicas || (d.AOF && local < 1) {
		return fail(ErrNotDurable, local, replicas, nil)
	}
	return nil
}
