package llmqueue

import (
	"context"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// maxCompleteBatch bounds one complete call, so a huge backlog of acks
// does not hold Redis in one script for long.
const maxCompleteBatch = 64

// completer gathers the successful acks of a processor's workers into one
// script call. It never waits to fill a batch: it takes what is queued
// when the previous call returns, so a lone ack goes out at once and a
// busy processor pays one round trip and one script start for many acks.
type completer struct {
	store     *redisstore.Store
	window    time.Duration
	retention int64
	timeout   time.Duration
	reqs      chan completeReq
	done      chan struct{}
}

type completeReq struct {
	args  redisstore.CompleteArgs
	reply chan error
}

func newCompleter(b *BatchProcessor) *completer {
	c := &completer{
		store: b.store, window: b.budget.ledgerWindow(), retention: b.qm.cfg.retention.Milliseconds(),
		timeout: b.qm.cfg.opTimeout, reqs: make(chan completeReq), done: make(chan struct{}),
	}
	go c.run()
	return c
}

// complete acks one request and returns nil, redisstore.ErrStale, or the
// call's error (the caller retries).
func (c *completer) complete(a redisstore.CompleteArgs) error {
	reply := make(chan error, 1)
	c.reqs <- completeReq{args: a, reply: reply}
	return <-reply
}

// close stops the completer once no ack can arrive any more.
func (c *completer) close() {
	close(c.reqs)
	<-c.done
}

func (c *completer) run() {
	defer close(c.done)
	batch := make([]completeReq, 0, maxCompleteBatch)
	acks := make([]redisstore.CompleteArgs, 0, maxCompleteBatch)
	for first := range c.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxCompleteBatch {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		acks = acks[:0]
		for _, r := range batch {
			acks = append(acks, r.args)
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		errs, err := c.store.CompleteMany(ctx, acks, c.window, c.retention)
		cancel()
		for i, r := range batch {
			if err != nil {
				r.reply <- err
			} else {
				r.reply <- errs[i]
			}
		}
	}
}
