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
		require.NoError(t, res.Jobs[0].Err)
		hash := res.Jobs[0].Record
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

func TestUnpack_MalformedIsCorruptNotPanic(t *testing.T) {
	for _, in := range []string{"", "garbage", "Q1\t1\n", "Q2\t1\t2\tlow\t3\t0\n{}", "\n\n\n"} {
		h := Unpack(in)
		if h["status"] != "queued" {
			t.Errorf("Unpack(%q) status %q", in, h["status"])
		}
	}
	assert.Equal(t, "corrupt", Unpack("garbage")["tokens"])
}
