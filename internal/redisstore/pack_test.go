package redisstore

import (
	"context"
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

		res, err := st.Lease(ctx, LeaseArgs{Max: 1, Lease: time.Minute, Window: time.Minute, Cycle: [3]int{3, 2, 1}})
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1)
		hash := res.Jobs[0]
		for _, f := range []string{"payload", "tokens", "prio", "maxr", "tmo", "ct", "m:user", "m:n"} {
			assert.Equal(t, packed[f], hash[f], f)
		}
		assert.Equal(t, "queued", packed["status"])
		assert.Equal(t, "20000", packed["tokens"])
		assert.Equal(t, string(req.Payload), packed["payload"])
	})
}

func TestUnpack_MalformedIsCorruptNotPanic(t *testing.T) {
	for _, in := range []string{"", "garbage", "Q1\t1\n", "Q2\t1\t2\tlow\t3\t0\n{}", "\n\n\n"} {
		h := Unpack(in)
		if h["status"] != "queued" {
			t.Errorf("Unpack(%q) status %q", in, h["status"])
		}
	}
	assert.Equal(t, "corrupt", Unpack("garbage")["tokens"])
}
