package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
)

// WaitEach yields each request's final status as it finishes (finished ones
// first, a repeated ID once), with no goroutine per request. It ends after an
// error, such as ErrNotFound or ctx's.
//
//	for st, err := range qm.WaitEach(ctx, ids) {
//		if err != nil { return err }
//		fmt.Println(st.ID, st.Status)
//	}
func (q *QueueManager) WaitEach(ctx context.Context, ids []string) iter.Seq2[*RequestStatus, error] {
	return func(yield func(*RequestStatus, error) bool) {
		q.waitEach(ctx, ids, yield)
	}
}

// WaitAll is WaitEach collected: the final statuses by ID, or with an error
// those of the requests that finished before it.
func (q *QueueManager) WaitAll(ctx context.Context, ids []string) (map[string]*RequestStatus, error) {
	out := make(map[string]*RequestStatus, len(ids))
	for st, err := range q.WaitEach(ctx, ids) {
		if err != nil {
			return out, err
		}
		out[st.ID] = st
	}
	return out, nil
}

// waitEach is WaitEach's body. The requests that had finished already come
// first, in the order of ids; the rest in the order they finish.
//
// It starts no goroutine of its own: all of ids wait on the manager's one
// pub/sub subscription, the one Wait uses, and only the requests an event
// (or the fallback poll, see waitHub) names are read again. So it suits
// thousands of requests where a Wait per request would need a goroutine
// each. Breaking out of the loop stops the waiting.
//
// It fails at once with a yielded error when its first read fails (a
// pipelined read of every ID's status); a request that does not exist
// fails it with ErrNotFound, then or when it disappears later. A later
// read that finds Redis unreachable is retried at the next wake, as in
// Wait. When ctx ends, or Close is called, it yields an error saying how
// many requests are unfinished. Whatever error ends it, the statuses
// yielded before it stand.
func (q *QueueManager) waitEach(ctx context.Context, ids []string, yield func(*RequestStatus, error) bool) {
	ids = uniqueIDs(ids)
	if len(ids) == 0 {
		return
	}
	// Register before the first read, as Wait does, so an event between
	// the two is not lost.
	s, err := q.waits.addSet(q, ids)
	if err != nil {
		yield(nil, fmt.Errorf("llmqueue: wait: %w", err))
		return
	}
	defer q.waits.removeSet(s)
	read, err := q.endedAmong(ctx, ids)
	if err != nil {
		yield(nil, err)
		return
	}
	for {
		for _, id := range read {
			w := s.waiters[id]
			if w == nil {
				continue // yielded already
			}
			st, err := w.status(ctx, q)
			switch {
			case err == nil && st.Status.Terminal():
				s.done(q, id)
				if !yield(st, nil) {
					return
				}
			case err == nil:
				// Not ended yet: an event of an earlier run of the request.
			case ctx.Err() != nil:
				yield(nil, fmt.Errorf("llmqueue: wait: %d of %d requests unfinished: %w", len(s.waiters), len(ids), ctx.Err()))
				return
			case errors.Is(err, ErrUnavailable):
				// The fallback poll names an ended request again.
				q.cfg.logger.Debug("llmqueue: wait: status read failed; waiting for the next wake", "id", id, "error", err)
			default:
				yield(nil, err)
				return
			}
		}
		if len(s.waiters) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			yield(nil, fmt.Errorf("llmqueue: wait: %d of %d requests unfinished: %w", len(s.waiters), len(ids), ctx.Err()))
			return
		case <-s.sub.done:
			yield(nil, fmt.Errorf("llmqueue: wait: %d of %d requests unfinished: %w", len(s.waiters), len(ids), s.sub.err))
			return
		case <-s.wake:
			read = s.take()
		}
	}
}

// endedAmong reads the statuses of ids in pipelined chunks and returns
// those that have ended or were not found, for a full read.
func (q *QueueManager) endedAmong(ctx context.Context, ids []string) ([]string, error) {
	var ended []string
	for start := 0; start < len(ids); start += waitCheckChunk {
		chunk := ids[start:min(start+waitCheckChunk, len(ids))]
		cctx, cancel := q.opCtx(ctx)
		statuses, err := q.store.Statuses(cctx, chunk)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("llmqueue: wait: read %d statuses: %w", len(chunk), storeErr(err))
		}
		for i, st := range statuses {
			if st == "" || Status(st).Terminal() {
				ended = append(ended, chunk[i])
			}
		}
	}
	return ended, nil
}

// uniqueIDs returns ids without repeats, in their first order.
func uniqueIDs(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// A waitSet is one WaitEach's registration with the hub: a waiter per ID,
// all sharing one wake channel and telling the set which ID woke, so
// WaitEach re-reads only those.
type waitSet struct {
	sub  *subscriber
	wake chan struct{} // buffered 1, shared by every waiter of the set
	// waiters holds the IDs not yet yielded; only WaitEach's goroutine
	// touches it.
	waiters map[string]*waiter

	mu    sync.Mutex // guards woken and seen; taken under the hub's lock
	woken []string   // IDs woken since the last take, in wake order
	seen  map[string]struct{}
}

// addSet registers a waitSet for ids, starting the subscriber if none
// runs (as add does for one ID).
func (h *waitHub) addSet(q *QueueManager, ids []string) (*waitSet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errManagerClosed
	}
	if h.sub == nil {
		h.sub = &subscriber{stop: make(chan struct{}), done: make(chan struct{}), check: make(chan struct{}, 1)}
		go h.run(q, h.sub)
	}
	if h.waiters == nil {
		h.waiters = map[string]map[*waiter]struct{}{}
		h.reads = make(chan struct{}, waitReads)
	}
	s := &waitSet{sub: h.sub, wake: make(chan struct{}, 1),
		waiters: make(map[string]*waiter, len(ids)), seen: map[string]struct{}{}}
	for _, id := range ids {
		w := &waiter{id: id, wake: s.wake, sub: h.sub, reads: h.reads, woken: s.mark}
		set := h.waiters[id]
		if set == nil {
			set = map[*waiter]struct{}{}
			h.waiters[id] = set
		}
		set[w] = struct{}{}
		s.waiters[id] = w
	}
	return s, nil
}

// removeSet unregisters the waiters of s that are left.
func (h *waitHub) removeSet(s *waitSet) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, w := range s.waiters {
		if set := h.waiters[id]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(h.waiters, id)
			}
		}
	}
	clear(s.waiters)
}

// done unregisters the waiter of an ID that was yielded.
func (s *waitSet) done(q *QueueManager, id string) {
	if w := s.waiters[id]; w != nil {
		q.waits.remove(w)
		delete(s.waiters, id)
	}
}

// mark records that id woke; the hub calls it under its lock.
func (s *waitSet) mark(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[id]; !ok {
		s.seen[id] = struct{}{}
		s.woken = append(s.woken, id)
	}
}

// take returns the IDs woken since the last take.
func (s *waitSet) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.woken
	s.woken = nil
	clear(s.seen)
	return ids
}
