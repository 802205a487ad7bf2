package llmqueue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// waitPollDefault is how often the shared subscriber re-reads the statuses
// of all waiting requests, as a fallback for events it never received.
const waitPollDefault = 5 * time.Second

// waitCheckChunk is how many statuses one pipelined fallback read asks for;
// each chunk gets the manager's operation timeout.
const waitCheckChunk = 500

// waitReads bounds the status reads that Waits run at once. Thousands of
// Waits woken together would otherwise queue for the client's pool inside
// their operation timeout and fail with ErrUnavailable; here they queue
// outside it, bounded only by their own contexts.
const waitReads = 16

// waitCheckRetry is how soon a failed fallback read is tried again, so a
// read that fails right after a resubscribe does not wait a whole poll.
const waitCheckRetry = time.Second

var (
	errManagerClosed      = errors.New("manager closed")
	errSubscriptionClosed = errors.New("subscription closed: redis client closed")
)

// A waitHub serves every Wait of one manager from a single subscription to
// the namespace's events channel, which carries an "id status" message
// whenever a request reaches a terminal status (see finish in
// internal/redisstore/lua/lib.lua).
//
// A Wait registers its request ID, reads the request's status, and reads
// it again each time the hub wakes it. The hub wakes
//   - the waiters of an ID when an event names it;
//   - the waiters whose requests have ended, found by one pipelined read of
//     all waiting requests' statuses, each time the subscription is
//     established or re-established and every poll interval.
//
// The re-read on resubscribe is what makes a lost connection harmless:
// go-redis resubscribes on its own, but the events published while it was
// gone are lost for good. The poll catches events lost any other way (a
// full channel buffer, a Cluster node that never forwarded one).
//
// The subscription starts with the first Wait and holds one connection
// until the manager's Close; closing the Redis client ends it too, and the
// Waits in progress fail. The zero value is ready to use.
type waitHub struct {
	// poll is the fallback interval; 0 means waitPollDefault. Tests set it
	// before the first Wait.
	poll time.Duration

	mu      sync.Mutex
	closed  bool
	sub     *subscriber // nil until the first Wait, and after one ended
	waiters map[string]map[*waiter]struct{}
	reads   chan struct{} // semaphore of waitReads; made by the first add
}

// A waiter is one Wait's registration.
type waiter struct {
	id    string
	wake  chan struct{} // buffered 1, so wakes coalesce and none is lost
	sub   *subscriber
	reads chan struct{} // the hub's
	// woken, when set, is told the ID of every wake, under the hub's lock:
	// the waiters of one WaitEach share one wake channel (see waitSet).
	woken func(id string)
}

// A subscriber is one run of the shared subscription.
type subscriber struct {
	stop  chan struct{} // closed by the manager's Close
	done  chan struct{} // closed when run returns; err is set by then
	check chan struct{} // buffered 1: a fallback read is due
	err   error
}

// add registers a waiter for id, starting the subscriber if none runs.
func (h *waitHub) add(q *QueueManager, id string) (*waiter, error) {
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
	w := &waiter{id: id, wake: make(chan struct{}, 1), sub: h.sub, reads: h.reads}
	set := h.waiters[id]
	if set == nil {
		set = map[*waiter]struct{}{}
		h.waiters[id] = set
	}
	set[w] = struct{}{}
	return w, nil
}

// remove unregisters w.
func (h *waitHub) remove(w *waiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set := h.waiters[w.id]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(h.waiters, w.id)
		}
	}
}

// status reads the waiter's request through the hub's semaphore.
func (w *waiter) status(ctx context.Context, q *QueueManager) (*RequestStatus, error) {
	select {
	case w.reads <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-w.reads }()
	return q.Status(ctx, w.id)
}

// notify wakes every waiter of id.
func (h *waitHub) notify(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.waiters[id] {
		if w.woken != nil {
			w.woken(id)
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// ids returns the IDs that have waiters.
func (h *waitHub) ids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.waiters))
	for id := range h.waiters {
		ids = append(ids, id)
	}
	return ids
}

// count returns how many IDs have waiters.
func (h *waitHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiters)
}

// close stops the subscriber and waits for it; its waiters then fail with
// errManagerClosed, and so does every later add.
func (h *waitHub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	s := h.sub
	h.mu.Unlock()
	if s != nil {
		close(s.stop)
		<-s.done
	}
}

// requestCheck asks for a fallback read; requests made while one runs
// coalesce into one more read after it, which sees every waiter that
// registered meanwhile.
func (s *subscriber) requestCheck() {
	select {
	case s.check <- struct{}{}:
	default:
	}
}

// run holds the subscription until Close, or until the client is closed
// (the only way go-redis closes the channel).
func (h *waitHub) run(q *QueueManager, s *subscriber) {
	log := q.cfg.logger.With("namespace", q.cfg.namespace)
	ctx, cancel := context.WithCancel(context.Background())
	var checker sync.WaitGroup
	checker.Go(func() { h.checkLoop(ctx, q, s) })

	// Subscribe does not fail: when Redis is unreachable, go-redis keeps
	// the channel and subscribes as soon as it can connect.
	ps := q.store.SubscribeEvents(ctx)
	// ChannelWithSubscriptions, not Channel: the *redis.Subscription it
	// delivers after every (re)subscribe is the signal to re-read. The
	// buffer absorbs a burst of completions while this loop is busy.
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	poll := h.poll
	if poll <= 0 {
		poll = waitPollDefault
	}
	tick := time.NewTicker(poll)
	subscribes := 0
loop:
	for {
		select {
		case <-s.stop:
			s.err = errManagerClosed
			break loop
		case <-tick.C:
			s.requestCheck()
		case m, ok := <-ch:
			if !ok {
				s.err = errSubscriptionClosed
				if n := h.count(); n > 0 {
					log.Warn("llmqueue: wait subscription closed with the redis client; waits in progress fail", "waits", n)
				}
				break loop
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind != "subscribe" {
					continue
				}
				subscribes++
				if subscribes == 1 {
					log.Debug("llmqueue: wait subscription established", "channel", m.Channel)
				} else {
					log.Info("llmqueue: wait subscription restored; re-reading the statuses of waiting requests",
						"channel", m.Channel, "resubscribes", subscribes-1)
				}
				s.requestCheck()
			case *redis.Message:
				// The status is the last word: an ID may hold spaces.
				if i := strings.LastIndexByte(m.Payload, ' '); i >= 0 {
					h.notify(m.Payload[:i])
				}
			}
		}
	}
	tick.Stop()
	cancel()
	checker.Wait()
	_ = ps.Close()
	// Drain until go-redis closes the channel, so its reader goroutine,
	// which may be blocked on a full buffer, exits too.
	for range ch {
	}
	h.mu.Lock()
	if h.sub == s {
		h.sub = nil
	}
	h.mu.Unlock()
	close(s.done)
}

// checkLoop runs the fallback reads that run asks for: one pipelined read
// of every waiting request's status, waking the waiters of those that have
// ended or are gone (their own read then returns ErrNotFound).
func (h *waitHub) checkLoop(ctx context.Context, q *QueueManager, s *subscriber) {
	log := q.cfg.logger.With("namespace", q.cfg.namespace)
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.check:
		}
		err := h.checkOnce(ctx, q)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Log the first failure of a run only: while Redis is down,
			// this retries every waitCheckRetry.
			if !failing {
				log.Warn("llmqueue: wait: re-reading the statuses of waiting requests failed; retrying", "error", storeErr(err))
			}
			failing = true
			select {
			case <-ctx.Done():
				return
			case <-time.After(waitCheckRetry):
			}
			s.requestCheck()
		case failing:
			failing = false
			log.Info("llmqueue: wait: re-reading the statuses of waiting requests works again")
		}
	}
}

// checkOnce reads the statuses of all waiting requests in chunks and wakes
// the waiters of those that have ended or are gone.
func (h *waitHub) checkOnce(ctx context.Context, q *QueueManager) error {
	ids := h.ids()
	for start := 0; start < len(ids); start += waitCheckChunk {
		chunk := ids[start:min(start+waitCheckChunk, len(ids))]
		cctx, cancel := q.opCtx(ctx)
		statuses, err := q.store.Statuses(cctx, chunk)
		cancel()
		if err != nil {
			return err
		}
		for i, st := range statuses {
			if st == "" || Status(st).Terminal() {
				h.notify(chunk[i])
			}
		}
	}
	return nil
}
