package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// Durability says what an Add waits for, beyond Redis's own persistence
// settings, before it reports success. By default Add answers as soon as
// the master has applied the write, which is in its memory only: with
// appendfsync everysec a crash of the master can lose about the last
// second of Adds, and an asynchronous failover whatever the replica had
// not yet received (see the README's "Durability"). Config.Durability makes
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
	// Timeout bounds the wait. Defaults to one second. It must
	// be below the manager's op timeout, which bounds the whole Add, and
	// below the client's ReadTimeout (3 s by default in go-redis).
	Timeout time.Duration
}

// defaultDurableTimeout is Durability.Timeout's default.
const defaultDurableTimeout = time.Second

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
// op timeout. A nil d (a zero Config.Durability) stays nil.
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

// CheckDurability confirms once, with nothing added, that Redis gives
// what Config.Durability asks for, so a deployment can learn at start-up
// (rather than from its first Add) that its Redis is older than 7.2,
// runs without appendonly, or has too few replicas. It returns nil
// without a Config.Durability, else nil or a *DurabilityError. It talks to
// Redis; NewQueueManager does not.
func (q *QueueManager) CheckDurability(ctx context.Context) error {
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
// with the last of ids.
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
