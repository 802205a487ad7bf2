package llmqueue

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// completeRaw finishes requests the way finish in lua/lib.lua does, but
// from the test, in one MULTI, so a test can drop the event (publish false)
// or run more commands in the same transaction (extra, run first). It
// writes a whole completed hash rather than reading the queued form, so it
// does not depend on how Add stores a request.
func completeRaw(t *testing.T, qm *QueueManager, ids []string, publish bool, extra func(redis.Pipeliner)) {
	t.Helper()
	ctx := context.Background()
	k := rawKeys(qm)
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	pipe := rawClient(qm).TxPipeline()
	if extra != nil {
		extra(pipe)
	}
	for _, id := range ids {
		pipe.HSet(ctx, k.Request(id), "status", string(StatusCompleted), "prio", string(PriorityLow),
			"tokens", "1", "att", "1", "maxr", "0", "payload", "{}", "res", `{"ok":true}`,
			"ct", now, "st", now, "ft", now, "ut", now)
		pipe.Del(ctx, k.Queued(id))
		if publish {
			pipe.Publish(ctx, k.Events, id+" "+string(StatusCompleted))
		}
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
}

// pubsubClients counts the server's pub/sub connections.
func pubsubClients(t *testing.T, rdb redis.UniversalClient) int {
	t.Helper()
	list, err := rdb.ClientList(context.Background()).Result()
	require.NoError(t, err)
	n := 0
	for line := range strings.SplitSeq(list, "\n") {
		// CLIENT LIST TYPE pubsub is what we mean; go-redis has no filter
		// argument for it, so filter on the flags field ("P" = pub/sub).
		for f := range strings.FieldsSeq(line) {
			if flags, ok := strings.CutPrefix(f, "flags="); ok && strings.Contains(flags, "P") {
				n++
			}
		}
	}
	return n
}

// hgetallCalls reads how many HGETALLs a real server ran: Status runs one
// per read, so a test can tell that n Waits have made their first read.
func hgetallCalls(t *testing.T, rdb redis.UniversalClient) int {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	_, rest, ok := strings.Cut(info, "cmdstat_hgetall:calls=")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
	require.NoError(t, err)
	return n
}

// settled waits until n Waits on s have read their status once, so what
// the test does next happens while they listen. miniredis keeps no
// command stats; there a short sleep stands in.
func settled(t *testing.T, s *redistest.Server, n int) {
	t.Helper()
	if s.Backend == redistest.Mini {
		time.Sleep(300 * time.Millisecond)
		return
	}
	rdb := s.Client(t)
	waitFor(t, 30*time.Second, func() bool { return hgetallCalls(t, rdb) >= n }, "the Waits' first reads")
}

type waitResult struct {
	st  *RequestStatus
	err error
	at  time.Time
}

// startWaits runs one Wait per ID in its own goroutine.
func startWaits(qm *QueueManager, ids []string, timeout time.Duration) <-chan waitResult {
	out := make(chan waitResult, len(ids))
	for _, id := range ids {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			st, err := qm.Wait(ctx, id)
			out <- waitResult{st, err, time.Now()}
		}()
	}
	return out
}

// TestWait_SubscriberKilledWithCompletion is issue 9 item 8: the pub/sub
// connection dies in the same MULTI that completes the request, so the
// event is published to nobody. Wait must re-read the status when go-redis
// resubscribes, not sit until its deadline. The fallback poll is set far
// beyond the test so only the resubscribe can save it.
func TestWait_SubscriberKilledWithCompletion(t *testing.T) {
	s := redistest.StartReal(t)
	qm := newManager(t, s, nil)
	setWaitPoll(qm, time.Hour)
	admin := s.Client(t)
	ids := addN(t, qm, 1)
	res := startWaits(qm, ids, 20*time.Second)
	waitFor(t, 5*time.Second, func() bool { return pubsubClients(t, admin) == 1 }, "the subscription")
	settled(t, s, 1)

	done := time.Now()
	completeRaw(t, qm, ids, true, func(p redis.Pipeliner) {
		p.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub")
	})
	r := <-res
	require.NoError(t, r.err)
	assert.Equal(t, StatusCompleted, r.st.Status)
	assert.Less(t, r.at.Sub(done), 3*time.Second, "Wait returned late")
}

// TestWait_TenThousandOnOneConnection is issue 9 item 8: every Wait of a
// manager shares one subscriber, so 10,000 of them hold one pub/sub
// connection (not 10,000, which also hits redis-server's maxclients), and
// the fan-out wakes each when its request completes.
func TestWait_TenThousandOnOneConnection(t *testing.T) {
	t.Parallel() // its own servers; most of its time is spent waiting on windows
	const n = 10_000
	s := redistest.StartReal(t)
	qm := newManager(t, s, nil)
	setWaitPoll(qm, time.Hour)
	admin := s.Client(t)
	ids := addN(t, qm, n)

	res := startWaits(qm, ids, 60*time.Second)
	var most int
	sample := func() {
		if c := pubsubClients(t, admin); c > most {
			most = c
		}
	}
	waitFor(t, 60*time.Second, func() bool {
		sample()
		return hgetallCalls(t, admin) >= n || most > 1 || len(res) > 0
	}, "the Waits' first reads")
	if len(res) > 0 {
		r := <-res
		t.Fatalf("a Wait returned before its request completed: %+v, %v", r.st, r.err)
	}
	sample()
	require.Equal(t, 1, most, "pub/sub connections while %d Waits listen", n)

	completeRaw(t, qm, ids, true, nil)
	bad := 0
	for range n {
		r := <-res
		if r.err != nil || r.st.Status != StatusCompleted {
			if bad++; bad <= 3 {
				t.Errorf("Wait: %+v, %v", r.st, r.err)
			}
		}
	}
	assert.Zero(t, bad, "Waits that did not see their completion")
	sample()
	assert.LessOrEqual(t, most, 1)
}

// TestWait_PollFindsUnpublishedCompletion is issue 9 item 8: a completion
// whose event never reached the subscriber is found by the slow fallback
// poll.
func TestWait_PollFindsUnpublishedCompletion(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		qm := newManager(t, s, nil)
		setWaitPoll(qm, 200*time.Millisecond)
		ids := addN(t, qm, 3)
		res := startWaits(qm, ids, 10*time.Second)
		settled(t, s, len(ids))

		completeRaw(t, qm, ids, false, nil)
		for range ids {
			r := <-res
			require.NoError(t, r.err)
			assert.Equal(t, StatusCompleted, r.st.Status)
		}
	})
}

// setWaitPoll sets the manager's fallback poll; call it before the first
// Wait.
func setWaitPoll(qm *QueueManager, d time.Duration) { qm.waits.poll = d }

// TestWait_CloseEndsWaits checks the manager's Close: the shared
// subscription's connection goes away, a Wait in progress fails at once
// instead of running to its deadline, and so does a later one.
func TestWait_CloseEndsWaits(t *testing.T) {
	s := redistest.StartReal(t)
	qm := newManager(t, s, nil)
	admin := s.Client(t)
	ids := addN(t, qm, 1)
	res := startWaits(qm, ids, 20*time.Second)
	waitFor(t, 5*time.Second, func() bool { return pubsubClients(t, admin) == 1 }, "the subscription")

	closed := time.Now()
	require.NoError(t, qm.Close())
	r := <-res
	require.ErrorContains(t, r.err, "manager closed")
	assert.Less(t, r.at.Sub(closed), time.Second)
	waitFor(t, 5*time.Second, func() bool { return pubsubClients(t, admin) == 0 }, "the subscription to close")

	_, err := qm.Wait(context.Background(), ids[0])
	require.ErrorContains(t, err, "manager closed")
	require.NoError(t, qm.Close(), "a second Close")
}
