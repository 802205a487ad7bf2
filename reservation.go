package llmqueue

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A provider counts a call from the moment it arrives; the ledger counts it
// from the moment its reservation was stamped, and holds it for Window plus
// a margin of Window/50. The stamp must therefore be no earlier than the
// call's arrival minus that margin, or the ledger frees the tokens before
// the provider does and the next call is refused. The lease stamps the
// reservation; when the call leaves much later (a busy machine, an SDK
// that spends a while encoding a large prompt) the stamp is renewed:
// when Process starts late, and again when the adapter calls BeforeSend
// just before the request goes out.
//
// A renewal runs beside the call, not before it: the new stamp is then no
// earlier than the call's start, and a later stamp only holds budget
// longer. Renewing first and sending on the reply would put a whole Redis
// round trip between stamp and send, and under load that round trip alone
// (over 100 ms seen on a busy 2-core machine) exceeds the margin. The ack
// waits for the renewals, which need the lease it gives up.

// stampKey is the context key of a running job's *stamp.
type stampKey struct{}

// stamp is a running job's reservation time, as far as this process knows
// it: no earlier than when the last renewal was started.
type stamp struct {
	b         *BatchProcessor
	id, token string
	late      time.Duration // renew when this much older

	mu      sync.Mutex
	sentAt  time.Time
	pending sync.WaitGroup
	// sent is set by BeforeSend: the call reached the provider, which
	// counts it whatever the outcome.
	sent atomic.Bool
}

func (b *BatchProcessor) newStamp(id, token string, sentAt time.Time) *stamp {
	bud := b.budget
	s := &stamp{b: b, id: id, token: token, sentAt: sentAt}
	if bud.limited() {
		// An eighth of the margin: a call that starts promptly costs no
		// extra script call.
		s.late = max((bud.ledgerWindow()-bud.Window)/8, time.Millisecond)
	}
	return s
}

// renewIfLate starts moving the reservation to now when it is older than
// s.late; wait waits for it.
func (s *stamp) renewIfLate() {
	if s == nil || s.late <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.sentAt) <= s.late {
		return
	}
	s.sentAt = time.Now()
	s.b.st.restamps.Add(1)
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.b.qm.cfg.opTimeout)
		defer cancel()
		if _, err := s.b.store.Restamp(ctx, s.id, s.token); err != nil {
			s.b.cfg.logger.Warn("llmqueue: could not move a late reservation", "id", s.id, "error", err)
		}
	}()
}

// wait returns once every renewal has finished.
func (s *stamp) wait() { s.pending.Wait() }

// BeforeSend tells the queue the call of the job under ctx is about to leave
// for the provider; adapters call it as late as they can. Safe to repeat; a
// no-op outside a BatchProcessor's job.
func BeforeSend(ctx context.Context) {
	// A stale reservation is moved to now, beside the call, so the ledger
	// holds it as long as the provider will; nothing happens when it is
	// fresh. Adapters call it in their HTTP client and again when the
	// request has its connection (httptrace's GotConn), because opening a
	// connection can take longer than the ledger's margin; the adapters in
	// providers/ do both.
	//
	// It also marks the attempt as sent: an attempt that fails after
	// BeforeSend (a 5xx, a timeout, a broken connection) keeps its
	// reservation for the window, because providers count a call when it
	// arrives, whatever its outcome; one that fails before it is released.
	// A 429 is settled by the Meter's Refused either way.
	if s, ok := ctx.Value(stampKey{}).(*stamp); ok {
		s.sent.Store(true)
		s.renewIfLate()
	}
}
