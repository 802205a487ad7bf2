package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnpackMatchesMaterialize checks that the Go reader of the compact
// queued form (Unpack) and the Lua one (materialize) agree field by field.
func TestUnpackMatchesMaterialize(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		st := New(s.Client(t), "pack")
		req := NewRequest{ID: "id with space", Priority: "medium", Tokens: 20_000, MaxRetries: 4, TimeoutMS: 90_000,
			Payload: []byte("{\"a\":\"tab\\there\\nnewline\"}"), Meta: map[string][]byte{"user": []byte(`"u1"`), "n": []byte(`7`)}}
		require.NoError(t, st.Add(ctx, []NewRequest{req}))
		packed, err := st.Get(ctx, req.ID)
		require.NoError(t, err)

		hash := leaseOne(t, st)
		assert.Equal(t, packed.Payload, hash.Payload)
		assert.Equal(t, packed.Tokens, hash.Tokens)
		assert.Equal(t, packed.Priority, hash.Priority)
		assert.Equal(t, packed.MaxRetries, hash.MaxRetries)
		assert.Equal(t, packed.TimeoutMS, hash.TimeoutMS)
		assert.Equal(t, packed.Created, hash.Created)
		assert.Equal(t, packed.Meta, hash.Meta)
		assert.Equal(t, "queued", packed.Status)
		assert.EqualValues(t, 20_000, packed.Tokens)
		assert.Equal(t, string(req.Payload), string(packed.Payload))
		assert.Equal(t, map[string][]byte{"user": []byte(`"u1"`), "n": []byte(`7`)}, packed.Meta)
	})
}

// leaseOne leases the one request st's queues hold, which materializes
// it, and returns it as its hash reads.
func leaseOne(t *testing.T, st *Store) Record {
	t.Helper()
	res, err := st.Lease(context.Background(), LeaseArgs{Max: 1, Lease: time.Minute, Window: time.Minute, Cycle: [3]int{3, 2, 1}})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	require.NoError(t, res.Jobs[0].Err)
	return res.Jobs[0].Record
}

func TestUnpack_MalformedIsCorruptNotPanic(t *testing.T) {
	for _, in := range []string{"", "garbage", "Q1\t1\n", "Q2\t1\t2\tlow\t3\t0\n{}", "Q4\t1\tab\t\tlow\t3\t0\tx\t1\n{}", "\n\n\n"} {
		h := Unpack(in)
		if h["status"] != "queued" {
			t.Errorf("Unpack(%q) status %q", in, h["status"])
		}
	}
	assert.Equal(t, "corrupt", Unpack("garbage")["tokens"])
	// Q4's input and output tokens are digits, as materialize reads them:
	// with a sign, the tokens they stand for stay unknown.
	assert.Equal(t, "6", Unpack("Q4\t1\tab\t\tlow\t3\t0\t5\t1\n{}")["tokens"])
	assert.Empty(t, Unpack("Q4\t1\tab\t\tlow\t3\t0\t+5\t1\n{}")["tokens"])
}

// TestAdd_CompactFormLeavesOutTokensThatAreInputPlusOutput checks the Q4
// form: tokens are written only when they differ from input + output, and
// both readers (Unpack, materialize) restore them.
func TestAdd_CompactFormLeavesOutTokensThatAreInputPlusOutput(t *testing.T) {
	tests := []struct {
		name              string
		tokens, in, out   int64
		wantTokensWritten bool
	}{
		{"sum", 1_074, 50, 1_024, false},
		{"tokens only", 1_200, 1_200, 0, false},
		{"meter charges more", 2_000, 50, 1_024, true},
		{"all zero", 0, 0, 0, false},
	}
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		rdb := s.Client(t)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				st := New(rdb, "q4-"+strings.ReplaceAll(tc.name, " ", "-"))
				req := NewRequest{ID: "r", Priority: "low", Tokens: tc.tokens, InTokens: tc.in, OutTokens: tc.out,
					MaxRetries: 3, Payload: []byte(`{}`)}
				require.NoError(t, st.Add(ctx, []NewRequest{req}))
				packed, err := rdb.Get(ctx, st.keys.Queued("r")).Result()
				require.NoError(t, err)
				f := strings.Split(strings.SplitN(packed, "\n", 2)[0], "\t")
				require.Equal(t, "Q4", f[0])
				assert.Len(t, f[2], 16, "digest")
				assert.Equal(t, tc.wantTokensWritten, f[3] != "", "tokens field %q", f[3])

				rec, err := st.Get(ctx, "r")
				require.NoError(t, err)
				assert.Equal(t, tc.tokens, rec.Tokens, "Unpack")
				leased := leaseOne(t, st)
				assert.Equal(t, tc.tokens, leased.Tokens, "materialize")
				assert.Equal(t, tc.in, leased.InTokens)
				assert.Equal(t, tc.out, leased.OutTokens)
			})
		}
	})
}

// TestAdd_ReplayMatchesARequestStoredWithALongDigest checks that a request
// an older release stored (Q3, 32-digit digest, compact or as a hash) is
// found the same by a replayed Add, and a different one a duplicate.
func TestAdd_ReplayMatchesARequestStoredWithALongDigest(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		rdb := s.Client(t)
		st := New(rdb, "q3-replay")
		req := NewRequest{ID: "old", Priority: "low", Tokens: 1_074, InTokens: 50, OutTokens: 1_024,
			MaxRetries: 3, Payload: []byte(`{"a":1}`)}
		short := digest(req.ID, req.header(), req.Payload)
		long := short + "0123456789abcdef"
		q3 := "Q3\t1796581505278\t" + long + "\t1074\tlow\t3\t0\t50\t1024\n" + string(req.Payload)
		require.NoError(t, rdb.Set(ctx, st.keys.Queued("old"), q3, 0).Err())
		require.NoError(t, rdb.RPush(ctx, st.keys.Low, "old").Err())

		require.NoError(t, st.Add(ctx, []NewRequest{req}), "replay of the old compact request")
		n, err := rdb.LLen(ctx, st.keys.Low).Result()
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, "queued once")
		other := req
		other.Payload = []byte(`{"a":2}`)
		var dup *DuplicateError
		require.ErrorAs(t, st.Add(ctx, []NewRequest{other}), &dup)

		assert.EqualValues(t, 1_074, leaseOne(t, st).Tokens)
		require.NoError(t, st.Add(ctx, []NewRequest{req}), "replay of the old request, leased (a hash)")
		require.ErrorAs(t, st.Add(ctx, []NewRequest{other}), &dup)
	})
}
