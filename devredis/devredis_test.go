package devredis

import (
	"context"
	"testing"

	"github.com/llmqueue/llmqueue/envconfig"
	"github.com/llmqueue/llmqueue/internal/redistest"
)

func TestConnect(t *testing.T) {
	ctx := context.Background()
	emb, err := Connect(envconfig.Default(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	if !emb.Embedded || emb.Client.Ping(ctx).Err() != nil {
		t.Fatalf("embedded: %+v", emb)
	}
	if want := "REDIS_URL not set: using an embedded in-process Redis (miniredis) at " + emb.Addr; emb.Describe() != want {
		t.Errorf("Describe() = %q, want %q", emb.Describe(), want)
	}

	s := redistest.StartMini(t)
	cfg := envconfig.Default()
	cfg.Redis.URL = s.URL()
	real, err := Connect(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	if real.Embedded || real.Addr != s.Addr || real.Client.Ping(ctx).Err() != nil {
		t.Fatalf("configured: %+v, want %s", real, s.Addr)
	}
	if want := "using Redis at " + s.Addr + " (from REDIS_URL)"; real.Describe() != want {
		t.Errorf("Describe() = %q, want %q", real.Describe(), want)
	}
}
