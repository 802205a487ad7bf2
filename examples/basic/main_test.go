package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRun_EmbeddedRedisProcessesEverything(t *testing.T) {
	t.Setenv("REDIS_URL", "") // blank counts as unset: use miniredis
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var out bytes.Buffer
	start := time.Now()
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"REDIS_URL not set: using an embedded in-process Redis (miniredis)",
		"start order: LLLMMG",
		"budget full: waited",
		"progress 18/18 done",
		"ETA 0s",
		`"total_completed": 18`,
		`"total_failed": 0`,
		"processor status:",
		`"health_status"`,
		"shut down cleanly",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("run took %s, want under 15s", took)
	}
}
