package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRun_FakeBurstSeesNo429(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv("ANTHROPIC_API_KEY", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, []string{"-fake"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"completed: 60/60", "requests: 60\n", "429s: 0\n", "rate-limited (queue): 0", "wall time:"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestRun_RealWithoutKeyExplains(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	t.Setenv("ANTHROPIC_API_KEY", "")
	err := run(context.Background(), nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "-fake") {
		t.Fatalf("want an error pointing at -fake, got %v", err)
	}
}
