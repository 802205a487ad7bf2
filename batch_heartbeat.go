package llmqueue

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// WorkerInfo is what a live worker reports in the registry.
type WorkerInfo struct {
	ID          string    `json:"id"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	InFlight    int       `json:"in_flight"`
	Concurrency int       `json:"concurrency"`
	Processed   int64     `json:"processed"`
	StartedAt   time.Time `json:"started_at"`
}

// heartbeatLoop extends this process's leases every third of the lease,
// registers the worker, and cancels requests whose lease was lost or whose
// cancel was asked for. A pub/sub listener delivers cancels sooner; the
// heartbeat is the fallback when a message is missed.
func (b *BatchProcessor) heartbeatLoop() {
	defer close(b.hbDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.listen(ctx)
	host, _ := os.Hostname()
	started := time.UnixMilli(b.st.startedAt.Load())
	tick := time.NewTicker(b.cfg.lease / 3)
	defer tick.Stop()
	outage := newOutageTracker(b.cfg.logger, "heartbeat")
	for {
		b.mu.Lock()
		leases := make(map[string]string, len(b.running))
		for id, r := range b.running {
			leases[id] = r.token
		}
		b.mu.Unlock()
		info, _ := json.Marshal(WorkerInfo{
			ID: b.cfg.workerID, Host: host, PID: os.Getpid(), InFlight: len(leases),
			Concurrency: b.cfg.concurrency, Processed: b.st.processed.Load(), StartedAt: started,
		})
		hctx, hcancel := context.WithTimeout(ctx, b.qm.cfg.opTimeout)
		lost, cancels, err := b.store.Heartbeat(hctx, redisstore.HeartbeatArgs{
			Lease: b.cfg.lease, WorkerID: b.cfg.workerID, WorkerTTL: b.cfg.lease,
			WorkerInfo: info, Leases: leases,
		})
		hcancel()
		if err != nil {
			outage.failed(err)
		} else {
			outage.ok()
			b.cancelRunning(lost, errLeaseLost)
			b.cancelRunning(cancels, errCanceledByUser)
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
	k := b.store.Keys()
	sub := b.store.Client().Subscribe(ctx, k.Cancels, k.Added)
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
			if msg.Channel == k.Added {
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
