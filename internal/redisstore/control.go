package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// clearScript lives beside its one caller rather than in scripts.go.
var clearScript = load("clear")

// The control hash's fields (see Keys.Control and lua/lease.lua).
const (
	ctlPaused   = "paused"
	ctlPausedAt = "paused_at"
	ctlCycle    = "cycle"
	ctlCycleAt  = "cycle_at"
)

// Control is what an operator set for every worker of a namespace.
type Control struct {
	Paused   bool
	PausedAt time.Time // zero unless Paused
	// Cycle is the override every worker leases by ("3,2,1"); empty when
	// each worker uses its own configured cycle.
	Cycle   string
	CycleAt time.Time
}

// SetPaused pauses or resumes leasing for every worker. Resuming also
// wakes idle workers through the Added channel, so none sleeps out its
// poll interval first.
func (s *Store) SetPaused(ctx context.Context, paused bool) error {
	k := s.keys
	if paused {
		return s.rdb.HSet(ctx, k.Control, ctlPaused, "1", ctlPausedAt, time.Now().UnixMilli()).Err()
	}
	if err := s.rdb.HDel(ctx, k.Control, ctlPaused, ctlPausedAt).Err(); err != nil {
		return err
	}
	// A lost wake-up costs one poll interval at most: not an error.
	_ = s.rdb.Publish(ctx, k.Added, "resumed").Err()
	return nil
}

// SetCycle makes spec ("3,2,1") every worker's cycle; "" returns each
// worker to its configured one. The caller validates spec; the lease
// script ignores one it cannot parse.
func (s *Store) SetCycle(ctx context.Context, spec string) error {
	k := s.keys
	if spec == "" {
		return s.rdb.HDel(ctx, k.Control, ctlCycle, ctlCycleAt).Err()
	}
	return s.rdb.HSet(ctx, k.Control, ctlCycle, spec, ctlCycleAt, time.Now().UnixMilli()).Err()
}

// Control reads the control hash.
func (s *Store) Control(ctx context.Context) (Control, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.Control).Result()
	if err != nil {
		return Control{}, err
	}
	c := Control{Paused: h[ctlPaused] == "1", Cycle: h[ctlCycle]}
	if c.Paused {
		c.PausedAt = msTime(h[ctlPausedAt])
	}
	if c.Cycle != "" {
		c.CycleAt = msTime(h[ctlCycleAt])
	}
	return c, nil
}

func msTime(v string) time.Time {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// ClearBatch is the most ids one clear script call takes off a queue, so
// a purge of a long queue never blocks Redis for long.
const ClearBatch = 500

// ClearResult counts what Clear did to one queue.
type ClearResult struct {
	Canceled int64 // queued requests ended as canceled
	Dropped  int64 // ids of requests that were no longer queued
}

// Clear ends the requests queued in class ("low", "medium" or "long") as
// canceled with message msg, in script calls of at most ClearBatch ids,
// each bounded by perCall. It takes off at most as many ids as the queue
// held when it started, so producers adding all the while cannot keep it
// running.
func (s *Store) Clear(ctx context.Context, class string, retentionMS int64, msg string, perCall time.Duration) (ClearResult, error) {
	q, ok := s.queueKey(class)
	if !ok {
		return ClearResult{}, fmt.Errorf("clear: unknown class %q", class)
	}
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, perCall) }
	cctx, cancel := call()
	n, err := s.rdb.LLen(cctx, q).Result()
	cancel()
	if err != nil {
		return ClearResult{}, err
	}
	var res ClearResult
	for n > 0 {
		batch := min(n, ClearBatch)
		cctx, cancel := call()
		raw, err := clearScript.Run(cctx, s.rdb, []string{q, s.keys.Stats}, s.keys.Prefix, batch, retentionMS,
			s.keys.Events, msg).Int64Slice()
		cancel()
		if err != nil {
			return res, scriptErr(err)
		}
		if len(raw) != 3 {
			return res, fmt.Errorf("clear: reply of %d elements", len(raw))
		}
		res.Canceled += raw[0]
		res.Dropped += raw[1]
		n -= batch
		if raw[2] == 0 {
			break
		}
	}
	return res, nil
}

// QueueLen returns the length of class's queue.
func (s *Store) QueueLen(ctx context.Context, class string) (int64, error) {
	q, ok := s.queueKey(class)
	if !ok {
		return 0, fmt.Errorf("queue length: unknown class %q", class)
	}
	return s.rdb.LLen(ctx, q).Result()
}

func (s *Store) queueKey(class string) (string, bool) {
	switch class {
	case "low":
		return s.keys.Low, true
	case "medium":
		return s.keys.Medium, true
	case "long":
		return s.keys.Long, true
	}
	return "", false
}

// ServerInfo returns the fields of Redis's default INFO (server, clients
// and memory among them) of the node that answers: on a cluster, any one.
// INFO without a section works on every Redis version; several sections in
// one call need Redis 7.
func (s *Store) ServerInfo(ctx context.Context) (map[string]string, error) {
	text, err := s.rdb.Info(ctx).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out, nil
}
