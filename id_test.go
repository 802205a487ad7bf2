package llmqueue

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewID_ShortTimeOrderedUnique: generated IDs are 19 URL-safe
// characters whose order follows their time, and do not repeat.
func TestNewID_ShortTimeOrderedUnique(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9A-Za-z]{19}$`)
	seen := map[string]bool{}
	prev := newID()
	for range 2000 {
		id := newID()
		require.Regexp(t, shape, id)
		assert.False(t, seen[id], "repeated id %s", id)
		seen[id] = true
		assert.LessOrEqual(t, prev[:8], id[:8], "time prefix goes back")
		prev = id
	}
	a := newID()
	time.Sleep(3 * time.Millisecond)
	b := newID()
	assert.Less(t, a, b, "a later id sorts after")
}
