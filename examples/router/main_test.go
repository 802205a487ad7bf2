package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// row is one deployment's line of the report.
var row = regexp.MustCompile(`(?m)^(dep-[abc])\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)%\s+([\d.]+)%\s+(\d+)$`)

func TestRun_FakeBurstCompletesWithoutSpendingRetriesOnFailovers(t *testing.T) {
	t.Setenv("REDIS_URL", "") // the embedded Redis: the demo's own namespace either way
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-fake", "-window", "2s", "-n", "150"}, &out, &errs)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errs.String())
	t.Log("\n" + out.String())

	report := out.String()
	assert.Contains(t, report, "150 of 150 completed")
	assert.Contains(t, report, "150 on their first attempt; retries spent: 0")
	rows := row.FindAllStringSubmatch(report, -1)
	require.Len(t, rows, 3, report)
	var served int
	for _, r := range rows {
		n, _ := strconv.Atoi(r[3])
		busiest, _ := strconv.ParseFloat(r[5], 64)
		failovers, _ := strconv.Atoi(r[8])
		served += n
		assert.Positive(t, n, "%s served", r[1])
		assert.LessOrEqual(t, busiest, 1.0, "%s: no window over its limit", r[1])
		if r[1] == "dep-b" {
			assert.Positive(t, failovers, "the failing deployment failed over")
		} else {
			assert.Zero(t, failovers, "%s never failed", r[1])
		}
	}
	assert.Equal(t, 150, served, "each request served once")
	assert.Regexp(t, `failovers: [1-9]\d* \(500s sent by the failing deployment: [1-9]`, report)
}

func TestRun_RefusesToRunWithoutFake(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no -fake", nil, "only against fake servers"},
		{"bad -n", []string{"-fake", "-n", "0"}, "-n must be at least 1"},
		{"extra", []string{"-fake", "x"}, "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			assert.Equal(t, 2, run(context.Background(), tc.args, &out, &errs))
			assert.Contains(t, errs.String(), tc.want)
		})
	}
}
