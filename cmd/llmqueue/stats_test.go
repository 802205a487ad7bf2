package main

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStats_ShowsEveryStateAndTheBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	var d statsDoc
	f.runJSON(t, &d, "stats", "--json")
	assert.Equal(t, "clitest", d.Namespace)
	assert.True(t, d.Paused)
	require.Len(t, d.Classes, 3)
	assert.Equal(t, classDoc{Class: "low", Queued: 2, Added: 8, Completed: 1, Failed: 1}, d.Classes[0])
	assert.Equal(t, classDoc{Class: "medium", Queued: 1, Added: 1}, d.Classes[1])
	assert.Equal(t, classDoc{Class: "long", Queued: 1, Added: 1}, d.Classes[2])
	assert.Equal(t, int64(4), d.Queued)
	assert.Equal(t, int64(1), d.Active)
	assert.Equal(t, int64(1), d.Scheduled)
	assert.Equal(t, int64(1), d.Suspended)
	assert.Equal(t, int64(1), d.Dead)
	assert.Equal(t, int64(1), d.Totals.Completed)
	assert.Equal(t, int64(1), d.Totals.Failed)
	assert.Equal(t, int64(1), d.Totals.Canceled)
	assert.Equal(t, 1, d.Workers)
	assert.Equal(t, int64(1), d.LastMinute.Completed)
	assert.Equal(t, int64(1), d.LastMinute.Failed)
	assert.Equal(t, int64(1), d.LastMinute.Canceled)
	require.Len(t, d.Budget, 6)
	tokens, requests := d.Budget[0], d.Budget[3]
	assert.Equal(t, "tokens", tokens.Name)
	assert.Equal(t, int64(90_000), tokens.Usable) // 10% safety buffer
	assert.Equal(t, int64(100_000), tokens.Limit)
	assert.Positive(t, tokens.Used)
	assert.False(t, tokens.Unlimited)
	assert.Equal(t, "requests", requests.Name)
	assert.Equal(t, int64(900), requests.Usable)
	assert.True(t, d.Budget[1].Unlimited, "input_tokens has no limit")

	r := f.run(t, "stats")
	require.Equal(t, 0, r.code, r.stderr)
	out := r.stdout
	for _, re := range []string{
		`namespace clitest \(processing paused\), live workers: 1`,
		`(?m)^low\s+2\s+8\s+1\s+1\s*$`,
		`(?m)^medium\s+1\s+1\s+0\s+0\s*$`,
		`(?m)^long\s+1\s+1\s+0\s+0\s*$`,
		`(?m)^total\s+4\s+10\s+1\s+1\s*$`,
		`(?m)^active\s+1\s*$`,
		`(?m)^scheduled \(retrying\)\s+1\s*$`,
		`(?m)^suspended\s+1\s*$`,
		`(?m)^dead\s+1\s*$`,
		`(?m)^tokens\s+` + itoa(tokens.Used) + `\s+90000\s+\d+\.\d%\s+1h0m0s\s*$`,
		`(?m)^requests\s+` + itoa(requests.Used) + `\s+900\s+`,
		`cool-down left: none`,
		`last minute: 1 completed, 1 dead, 1 canceled, 0 provider 429s`,
	} {
		assert.Regexp(t, regexp.MustCompile(re), out)
	}
	assert.NotContains(t, out, "input_tokens", "unlimited dimensions are hidden by default")

	r = f.run(t, "stats", "--all-dimensions")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^input_tokens\s+\d+\s+unlimited`, r.stdout)
}
