package llmqueue

import (
	"context"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// heartbeatLoop extends this process's leases every third of the lease,
// registers the worker, and cancels requests whose lease was lost or whose
// cancel was asked for. A pub/sub listener delivers cancels sooner; the
// heartbeat is the fallback when a message is missed.
func (b *BatchProcessor) heartbeatLoop() {
	defer close(b.hbDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.listen(ctx)
	tick := time.NewTicker(b.cfg.lease / 3)
	defer tick.Stop()
	outage := newOutageTracker(b.cfg.logger, "heartbeat")
	displaced := false
	for {
		leases := b.heldLeases()
		hctx, hcancel := context.WithTimeout(ctx, b.qm.cfg.opTimeout)
		res, err := b.store.Heartbeat(hctx, redisstore.HeartbeatArgs{
			Lease: b.cfg.lease, WorkerID: b.cfg.workerID, Instance: b.instance, WorkerTTL: b.cfg.lease,
			WorkerInfo: b.workerInfo(len(leases)), Leases: leases,
		})
		hcancel()
		if err != nil {
			outage.failed(err)
		} else {
			outage.ok()
			b.cancelRunning(res.Lost, errLeaseLost)
			b.cancelRunning(res.Cancel, errCanceledByUser)
			if res.Displaced != displaced {
				displaced = res.Displaced
				if displaced {
					b.cfg.logger.Error("llmqueue: another live process registered under this worker id; give each process its own id",
						"worker", b.cfg.workerID)
				}
			}
		}
		select {
		case <-b.hbStop:
			return
		case <-tick.C:
		}
	}
}

// listen follows the namespace's pub/sub: cancels of requests this
// process runs, and Add's announcements that wake an idle lease loop.
func (b *BatchProcessor) listen(ctx context.Context) {
	sub := b.store.SubscribeWorker(ctx)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if b.store.IsWakeUp(msg) {
				select {
				case b.added <- struct{}{}:
				default:
				}
			} else if id, found := strings.CutSuffix(msg.Payload, " canceling"); found {
				b.cancelRunning([]string{id}, errCanceledByUser)
			}
		}
	}
}

// heldLeases returns the leases the heartbeat extends: those of running
// jobs, except a job past its timeout plus grace. Its processor ignored
// the context's deadline; extending its lease forever would keep the
// request from every other worker, so the lease is left to expire and the
// request recovered, and the stuck call's outcome will be stale.
func (b *BatchProcessor) heldLeases() map[string]string {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	leases := make(map[string]string, len(b.running))
	for id, r := range b.running {
		if now.After(r.giveUpAt) {
			if !r.overdue {
				r.overdue = true
				b.cfg.logger.Error("llmqueue: processor ignored its context past the timeout; its lease is left to expire and the request to another worker",
					"id", id, "worker", b.cfg.workerID)
			}
			continue
		}
		leases[id] = r.token
	}
	return leases
}

func (b *BatchProcessor) cancelRunning(ids []string, cause error) {
	if len(ids) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		if r, ok := b.running[id]; ok {
			r.cancel(cause)
		}
	}
}
