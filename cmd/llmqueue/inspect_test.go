package main

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/llmqueue/llmqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInspect_ShowsEveryField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	var st llmqueue.RequestStatus
	f.runJSON(t, &st, "inspect", idCompleted, "--json")
	assert.Equal(t, idCompleted, st.ID)
	assert.Equal(t, llmqueue.StatusCompleted, st.Status)
	assert.Equal(t, llmqueue.PriorityLow, st.Priority)
	assert.JSONEq(t, `{"answer":"42","model":"test"}`, string(st.Result))
	assert.JSONEq(t, `{"kind":"ok","prompt":"say ok"}`, string(st.Payload))
	assert.Equal(t, json.RawMessage("100"), st.Meta["progress"])
	assert.Equal(t, int64(150), st.Usage.Total())
	assert.False(t, st.FinishedAt.IsZero())

	r := f.run(t, "inspect", idCompleted)
	require.Equal(t, 0, r.code, r.stderr)
	for _, re := range []string{
		`(?m)^id\s+req-completed$`, `(?m)^status\s+completed$`, `(?m)^class\s+low$`,
		`(?m)^estimated tokens\s+1000$`, `(?m)^attempts\s+1 \(max retries 2: at most 3 attempts\)$`,
		`(?m)^usage\s+input 120, output 30, cache read 0, cache write 0 \(total 150\)$`,
		`(?m)^  created\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+\s+\(\S+ ago\)$`,
		`(?m)^  started\s+\d{4}-`, `(?m)^  finished\s+\d{4}-`,
		`(?m)^  kind\s+"ok"$`, `(?m)^  progress\s+100$`,
		`payload:\n  \{\n    "kind": "ok",\n    "prompt": "say ok"\n  \}`,
		`result:\n  \{\n    "answer": "42",\n    "model": "test"\n  \}`,
	} {
		assert.Regexp(t, regexp.MustCompile(re), r.stdout)
	}

	r = f.run(t, "inspect", idDead)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^error\s+.*bad request: model "gpt-x" does not exist`, r.stdout)
	assert.Regexp(t, `(?m)^result:\n  \(none\)`, r.stdout)

	r = f.run(t, "inspect", idSuspended)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^suspend reason\s+needs approval$`, r.stdout)

	r = f.run(t, "inspect", idActive)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^  finished\s+-$`, r.stdout)

	for _, args := range [][]string{{"inspect", "no-such-id"}, {"inspect", "no-such-id", "--json"}} {
		r = f.run(t, args...)
		assert.Equal(t, exitNotFound, r.code)
		assert.Empty(t, r.stdout)
		assert.Contains(t, r.stderr, "request not found")
	}
	r = f.run(t, "inspect")
	assert.Equal(t, exitUsage, r.code)
}
