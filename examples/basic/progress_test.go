package main

import (
	"testing"
	"time"
)

func TestProgress_Line(t *testing.T) {
	tests := []struct {
		name        string
		done, total int
		tokens      int64
		elapsed     time.Duration
		want        string
	}{
		{"half way", 5, 10, 50_000, 2 * time.Second,
			"           progress 5/10 done | 2.5 req/s | 1500000 tokens/min | ETA 2s"},
		{"finished", 10, 10, 100_000, 4 * time.Second,
			"           progress 10/10 done | 2.5 req/s | 1500000 tokens/min | ETA 0s"},
		{"nothing yet", 0, 10, 0, time.Second,
			"           progress 0/10 done | 0.0 req/s | 0 tokens/min | ETA -"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &progress{total: tc.total, done: tc.done, tokens: tc.tokens}
			if got := p.line(tc.elapsed); got != tc.want {
				t.Errorf("line() = %q, want %q", got, tc.want)
			}
		})
	}
}
