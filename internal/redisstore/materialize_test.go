package redisstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// materializeScript runs lib.lua's materialize alone:
// KEYS[1] -> llmq:{ns}:qr:<id> (named so a cluster client routes the call)
// ARGV[1] -> key prefix, ARGV[2] -> id. Returns 1.
var materializeScript = func() *redis.Script {
	lib, err := luaFiles.ReadFile("lua/lib.lua")
	if err != nil {
		panic(err)
	}
	return redis.NewScript(string(lib) + "\nmaterialize(ARGV[1], ARGV[2])\nreturn 1")
}()

// TestMaterialize_ManyMetaEntriesKeepThePayload is issue 9 item 2: a
// compact request with 5,000 meta entries (more than Add accepts today, as
// an older version accepted) becomes a complete request hash. One HSET
// with every field failed on Redis with "too many results to unpack" after
// the compact form had been deleted, which destroyed the request.
func TestMaterialize_ManyMetaEntriesKeepThePayload(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		rdb := s.Client(t)
		st := New(rdb, "mat")
		meta := make(map[string][]byte, 5000)
		for i := range 5000 {
			meta[fmt.Sprintf("k%04d", i)] = []byte(`"v"`)
		}
		req := NewRequest{ID: "many", Priority: "low", Tokens: 3, MaxRetries: 1, TimeoutMS: 1000,
			Payload: []byte(`{"keep":"me"}`), Meta: meta}
		require.NoError(t, st.Add(ctx, []NewRequest{req}))
		require.NoError(t, materializeScript.Run(ctx, rdb, []string{st.keys.Queued("many")}, st.keys.Prefix, "many").Err())

		h, err := rdb.HGetAll(ctx, st.keys.Request("many")).Result()
		require.NoError(t, err)
		assert.Equal(t, `{"keep":"me"}`, h["payload"])
		assert.Equal(t, "3", h["tokens"])
		assert.Equal(t, `"v"`, h["m:k4999"])
		assert.Len(t, h, 5000+12, "5,000 meta fields and status, ct, ut, tokens, prio, att, maxr, tmo, payload, cin, cout, rh")
		n, err := rdb.Exists(ctx, st.keys.Queued("many")).Result()
		require.NoError(t, err)
		assert.Zero(t, n, "the compact form is gone once the hash is whole")
	})
}

// TestMaterialize_FailedWriteKeepsTheCompactForm checks the order of
// materialize's writes: the compact form is deleted last, so a write that
// fails (here: the hash's key holds a string) leaves the request readable.
func TestMaterialize_FailedWriteKeepsTheCompactForm(t *testing.T) {
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		rdb := s.Client(t)
		st := New(rdb, "mat")
		req := NewRequest{ID: "blocked", Priority: "low", Tokens: 3, MaxRetries: 1, TimeoutMS: 1000, Payload: []byte(`{}`)}
		require.NoError(t, st.Add(ctx, []NewRequest{req}))
		require.NoError(t, rdb.Set(ctx, st.keys.Request("blocked"), "not a hash", 0).Err())
		require.Error(t, materializeScript.Run(ctx, rdb, []string{st.keys.Queued("blocked")}, st.keys.Prefix, "blocked").Err())

		packed, err := rdb.Get(ctx, st.keys.Queued("blocked")).Result()
		require.NoError(t, err, "the compact form survives a failed materialize")
		assert.Equal(t, "{}", Unpack(packed)["payload"])
	})
}
