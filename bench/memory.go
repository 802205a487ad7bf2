package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redisstore"
	"github.com/redis/go-redis/v9"
)

// memoryTarget is issue 11's limit on Redis memory per queued request
// beyond its payload, in bytes.
const memoryTarget = 224

// measureMemory reads INFO memory used_memory before and after queueing
// N requests with a payload of -payload bytes and reports what each
// costs beyond its payload.
func (b *bench) measureMemory(ctx context.Context) (err error) {
	s, err := b.begin(ctx, "memory")
	if err != nil {
		return err
	}
	defer s.end(ctx, &err)
	qm, rdb, err := s.manager(b.cfg.fillWorkers+2, llmqueue.Budget{})
	if err != nil {
		return err
	}
	payload := makePayload(b.cfg.payload)
	// One request first, so the script cache, the queue and the counters
	// exist before the first reading.
	_, err = qm.Add(ctx, llmqueue.NewRequest(payload))
	if err != nil {
		_ = rdb.Close()
		return err
	}
	// The filling client's connections (and their buffers) are closed
	// before the second reading.
	_ = rdb.Close()
	before, err := usedMemory(ctx, b.admin)
	if err != nil {
		return err
	}
	qm, rdb, err = s.manager(b.cfg.fillWorkers+2, llmqueue.Budget{})
	if err != nil {
		return err
	}
	n := b.cfg.memN
	fl := filler{qm: qm, payload: payload, batch: b.cfg.fillBatch, workers: b.cfg.fillWorkers}
	err = fl.fill(ctx, n)
	_ = rdb.Close()
	if err != nil {
		return err
	}
	sleepCtx(ctx, 200*time.Millisecond)
	after, err := usedMemory(ctx, b.admin)
	if err != nil {
		return err
	}
	per := float64(after-before)/float64(n) - float64(len(payload))
	parts := memoryParts(ctx, b.admin, s.ns, n)
	b.addRow(row{
		Name:  "Redis memory per queued request beyond its payload",
		Value: per, Unit: "bytes", Figure: fmt.Sprintf("%.0f B", per),
		RatioOf: "-",
		Target:  fmt.Sprintf("<= %d B", memoryTarget), Met: boolPtr(per <= memoryTarget),
		Note: fmt.Sprintf("used_memory +%.1f MB for %d requests with %d-byte payloads; %s",
			float64(after-before)/1e6, n, len(payload), parts),
	})
	return nil
}

// usedMemory returns INFO memory's used_memory in bytes.
func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	v, err := infoField(ctx, rdb, "memory", "used_memory")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("used_memory %q: %w", v, err)
	}
	return n, nil
}

// infoField returns one field of an INFO section.
func infoField(ctx context.Context, rdb *redis.Client, section, field string) (string, error) {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return "", fmt.Errorf("info %s: %w", section, err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("info %s: no field %s", section, field)
}

// memoryParts explains where the memory goes: the encoding and MEMORY
// USAGE of one request hash and the queue's cost per entry. It is a
// diagnostic only; a server that refuses these commands gets "n/a".
func memoryParts(ctx context.Context, rdb *redis.Client, ns string, n int) string {
	k := redisstore.NewKeys(ns)
	ids, err := rdb.LRange(ctx, k.Low, 0, 0).Result()
	if err != nil || len(ids) == 0 {
		return "breakdown n/a"
	}
	key := k.Queued(ids[0])
	enc, err1 := rdb.ObjectEncoding(ctx, key).Result()
	hash, err2 := rdb.MemoryUsage(ctx, key).Result()
	queue, err3 := rdb.MemoryUsage(ctx, k.Low, 0).Result()
	if err1 != nil || err2 != nil || err3 != nil {
		return "breakdown n/a"
	}
	limit := "?"
	if v, err := rdb.ConfigGet(ctx, "hash-max-listpack-value").Result(); err == nil {
		limit = v["hash-max-listpack-value"]
	}
	return fmt.Sprintf("one queued request: %s encoding (hash-max-listpack-value %s), MEMORY USAGE %d B "+
		"(key and payload included); queue list: %d B per entry",
		enc, limit, hash, queue/int64(n+1))
}
