package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Inspector reads and repairs a namespace for operators: queue depths,
// requests by state a page at a time, live workers, dead requests. Get one
// from QueueManager.Inspector; it is safe for concurrent use.
type Inspector struct{ q *QueueManager }

// Inspector returns the namespace's Inspector.
func (q *QueueManager) Inspector() *Inspector { return &Inspector{q: q} }

// QueueCounts is how many requests of a namespace are in each state that
// has an index; Metrics counts the completed and canceled ones.
type QueueCounts struct {
	Queued    map[Priority]int64 `json:"queued"`
	Active    int64              `json:"active"`    // leased
	Scheduled int64              `json:"scheduled"` // waiting for a retry
	Suspended int64              `json:"suspended"`
	Dead      int64              `json:"dead"` // still kept (Config.Retention)
}

// Counts reports the namespace's queue depths in one atomic read.
func (in *Inspector) Counts(ctx context.Context) (QueueCounts, error) {
	q := in.q
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	snap, err := q.store.Snapshot(ctx, q.cfg.budget.ledgerWindow(), q.cfg.retention.Milliseconds())
	if err != nil {
		return QueueCounts{}, fmt.Errorf("llmqueue: counts: %w", storeErr(err))
	}
	return QueueCounts{
		Queued: map[Priority]int64{PriorityLow: snap.Low, PriorityMedium: snap.Medium, PriorityLong: snap.Long},
		Active: snap.Active, Scheduled: snap.Scheduled, Suspended: snap.Suspended, Dead: snap.Dead,
	}, nil
}

// Page is one page of request IDs, from Inspector.List.
type Page struct {
	IDs  []string `json:"ids"`
	Next string   `json:"next,omitempty"` // the next page's cursor; "" after the last
}

// ErrNotIndexed is returned by Inspector.List for completed and canceled:
// those states have no index to page through.
var ErrNotIndexed = errors.New("llmqueue: state has no index")

// List returns up to limit (1-1000) IDs in state from cursor ("" first):
// queued in lease order, active by deadline, retrying by due time, the rest
// oldest first. Completed and canceled fail with ErrNotIndexed, bad
// arguments with ErrInvalidRequest.
func (in *Inspector) List(ctx context.Context, state Status, cursor string, limit int) (Page, error) {
	// Queued pages through the low, then medium, then long queue, each head
	// first (the order they are leased in within a class). Dead IDs past
	// the retention or whose request was deleted are pruned on the way.
	// Completed and canceled requests are kept only as their own records
	// until their retention ends (Status reads one), hence ErrNotIndexed.
	// Each page is its own snapshot, so a request that moves between two
	// calls may be skipped or seen twice.
	if limit < 1 || limit > 1000 {
		return Page{}, fmt.Errorf("%w: limit %d: want 1-1000", ErrInvalidRequest, limit)
	}
	q := in.q
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	switch state {
	case StatusQueued:
		return in.listQueued(ctx, cursor, int64(limit))
	case StatusActive, StatusRetrying, StatusSuspended, StatusDead:
	case StatusCompleted, StatusCanceled:
		return Page{}, fmt.Errorf("%w: %s", ErrNotIndexed, state)
	default:
		return Page{}, fmt.Errorf("%w: unknown state %q", ErrInvalidRequest, state)
	}
	offset, err := parseOffset(cursor)
	if err != nil {
		return Page{}, err
	}
	var ids []string
	switch state {
	case StatusActive:
		ids, err = q.store.Page(ctx, "active", offset, int64(limit))
	case StatusRetrying:
		ids, err = q.store.Page(ctx, "scheduled", offset, int64(limit))
	case StatusSuspended:
		ids, err = q.store.ListSuspended(ctx, offset, int64(limit))
	case StatusDead:
		ids, err = q.store.ListDead(ctx, offset, int64(limit), q.cfg.retention.Milliseconds())
	}
	if err != nil {
		return Page{}, fmt.Errorf("llmqueue: list %s: %w", state, storeErr(err))
	}
	p := Page{IDs: ids}
	if len(ids) == limit {
		p.Next = strconv.FormatInt(offset+int64(len(ids)), 10)
	}
	return p, nil
}

// listQueued pages through the three queues in cycle order; its cursor is
// "<class>:<offset>".
func (in *Inspector) listQueued(ctx context.Context, cursor string, limit int64) (Page, error) {
	class, offset := PriorityLow, int64(0)
	if cursor != "" {
		c, o, ok := strings.Cut(cursor, ":")
		n, err := strconv.ParseInt(o, 10, 64)
		if !ok || err != nil || n < 0 || !Priority(c).valid() {
			return Page{}, fmt.Errorf("%w: bad cursor %q", ErrInvalidRequest, cursor)
		}
		class, offset = Priority(c), n
	}
	var p Page
	for i, c := range priorities {
		if i < classIndex(class) {
			continue
		}
		if c != class {
			offset = 0
		}
		want := limit - int64(len(p.IDs))
		ids, err := in.q.store.Page(ctx, string(c), offset, want)
		if err != nil {
			return Page{}, fmt.Errorf("llmqueue: list queued: %w", storeErr(err))
		}
		p.IDs = append(p.IDs, ids...)
		if int64(len(ids)) == want {
			p.Next = string(c) + ":" + strconv.FormatInt(offset+want, 10)
			return p, nil
		}
	}
	return p, nil
}

func classIndex(p Priority) int {
	for i, c := range priorities {
		if c == p {
			return i
		}
	}
	return 0
}

func parseOffset(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: bad cursor %q", ErrInvalidRequest, cursor)
	}
	return n, nil
}

// Request returns one request's status, as QueueManager.Status does.
func (in *Inspector) Request(ctx context.Context, id string) (*RequestStatus, error) {
	return in.q.Status(ctx, id)
}

// Workers returns the live workers of the namespace, by ID.
func (in *Inspector) Workers(ctx context.Context) ([]WorkerInfo, error) {
	q := in.q
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	snap, err := q.store.Snapshot(ctx, q.cfg.budget.ledgerWindow(), q.cfg.retention.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("llmqueue: workers: %w", storeErr(err))
	}
	return workersOf(snap.Workers), nil
}

// Requeue queues a dead request again with its attempts reset, as
// QueueManager.Requeue does.
func (in *Inspector) Requeue(ctx context.Context, id string) error { return in.q.Requeue(ctx, id) }

// RequeueDead requeues every dead request still kept and returns how many;
// one requeued by another caller or expired meanwhile is skipped.
func (in *Inspector) RequeueDead(ctx context.Context) (int, error) {
	n := 0
	for {
		page, err := in.List(ctx, StatusDead, "", 500)
		if err != nil {
			return n, err
		}
		moved := 0
		for _, id := range page.IDs {
			err := in.q.Requeue(ctx, id)
			switch {
			case err == nil:
				moved++
			case errors.Is(err, ErrInvalidState), errors.Is(err, ErrNotFound):
			default:
				return n + moved, err
			}
		}
		n += moved
		// Requeued IDs leave the dead set, so the next first page is new;
		// a page that moved nothing would repeat forever.
		if page.Next == "" || moved == 0 {
			return n, nil
		}
	}
}
