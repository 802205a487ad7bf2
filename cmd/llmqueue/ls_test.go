package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLs_ListsEachIndexedState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		state  string
		ids    []string
		status string
		detail string // in the table's error column
	}{
		{"queued", []string{idLow1, idLow2, idMedium, idLong}, "queued", ""},
		{"active", []string{idActive}, "active", ""},
		{"scheduled", []string{idRetrying}, "retrying", "upstream 503: overloaded"},
		{"retrying", []string{idRetrying}, "retrying", "upstream 503: overloaded"},
		{"suspended", []string{idSuspended}, "suspended", "suspended: needs approval"},
		{"dead", []string{idDead}, "dead", `bad request: model "gpt-x" does not exist`},
	} {
		t.Run(tc.state, func(t *testing.T) {
			var doc lsDoc
			f.runJSON(t, &doc, "ls", tc.state, "--json")
			assert.Equal(t, "", doc.Next)
			var ids []string
			for _, r := range doc.Requests {
				ids = append(ids, r.ID)
				assert.Equal(t, tc.status, r.Status)
				assert.False(t, r.CreatedAt.IsZero())
			}
			assert.Equal(t, tc.ids, ids)

			r := f.run(t, "ls", tc.state)
			require.Equal(t, 0, r.code, r.stderr)
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			require.Len(t, lines, len(tc.ids)+1, r.stdout)
			assert.Regexp(t, `^ID\s+CLASS\s+STATUS\s+ATTEMPTS\s+EST.TOKENS\s+AGE\s+UPDATED\s+ERROR$`, lines[0])
			for i, id := range tc.ids {
				assert.Regexp(t, `^`+regexp.QuoteMeta(id)+`\s+(low|medium|long)\s+`+tc.status+`\s+\d/3\s+\d+\s+\S+\s+\S+\s+`, lines[i+1])
				if tc.detail != "" {
					assert.Contains(t, lines[i+1], tc.detail)
				}
			}
		})
	}

	t.Run("row fields", func(t *testing.T) {
		var doc lsDoc
		f.runJSON(t, &doc, "ls", "dead", "--json")
		require.Len(t, doc.Requests, 1)
		r := doc.Requests[0]
		assert.Equal(t, lsRow{ID: idDead, Class: "low", Status: "dead", Attempts: 1, MaxRetries: 2, EstimatedTokens: 1000,
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Error: r.Error}, r)
		assert.Contains(t, r.Error, "gpt-x")
	})
}

func TestLs_PagesWithCursor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var p1, p2 lsDoc
	f.runJSON(t, &p1, "ls", "queued", "--limit", "3", "--json")
	require.Len(t, p1.Requests, 3)
	require.NotEmpty(t, p1.Next)
	f.runJSON(t, &p2, "ls", "queued", "--limit", "3", "--cursor", p1.Next, "--json")
	require.Len(t, p2.Requests, 1)
	assert.Equal(t, idLong, p2.Requests[0].ID)
	assert.Empty(t, p2.Next)

	r := f.run(t, "ls", "queued", "--limit", "2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "next page: --cursor ")
	cursor := strings.TrimSpace(r.stdout[strings.LastIndex(r.stdout, "--cursor ")+len("--cursor "):])
	r = f.run(t, "ls", "queued", "--limit", "2", "--cursor", cursor)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, idMedium)
	assert.Contains(t, r.stdout, idLong)
	// A full page may still give a cursor; the page after it is empty.
	if i := strings.LastIndex(r.stdout, "--cursor "); i >= 0 {
		r = f.run(t, "ls", "queued", "--limit", "2", "--cursor", strings.TrimSpace(r.stdout[i+len("--cursor "):]))
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "no queued requests\n", r.stdout)
	}
}

func TestLs_CompletedAndCanceledAreNotIndexed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, state := range []string{"completed", "canceled"} {
		for _, args := range [][]string{{"ls", state}, {"ls", state, "--json"}} {
			r := f.run(t, args...)
			assert.Equal(t, exitNotIndexed, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, state+" requests are not indexed")
			assert.NotContains(t, r.stderr, "goroutine")
		}
	}
	r := f.run(t, "ls", "nonsense")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `unknown state "nonsense"`)
	r = f.run(t, "ls", "dead", "--limit", "0")
	assert.Equal(t, exitUsage, r.code)
}
