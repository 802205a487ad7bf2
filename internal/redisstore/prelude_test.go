package redisstore

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every script gets each lib.lua definition it uses, and only those.
func TestPrelude_EachScriptGetsWhatItUses(t *testing.T) {
	libRaw, err := luaFiles.ReadFile("lua/lib.lua")
	require.NoError(t, err)
	lib := string(libRaw)
	parts := splitLib(lib)
	require.GreaterOrEqual(t, len(parts), 20, "lib.lua's definitions")
	var all []string
	for _, p := range parts {
		all = append(all, p.names...)
		assert.True(t, strings.HasPrefix(p.text, "--"), "%v has its comment: %q", p.names, p.text)
	}
	for _, want := range []string{"now_ms", "MAX_COUNT", "RECENT_BUCKET_MS", "RECENT_KEEP_MS", "materialize"} {
		assert.Contains(t, all, want)
	}

	entries, err := luaFiles.ReadDir("lua")
	require.NoError(t, err)
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".lua")
		if name == "lib" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			body, err := luaFiles.ReadFile("lua/" + e.Name())
			require.NoError(t, err)
			pre := prelude(parts, string(body))
			code := commentLine.ReplaceAllString(pre+string(body), "")
			for _, p := range parts {
				defined := strings.Contains(pre, p.text)
				used := false
				for _, n := range p.names {
					// A use is any mention outside the definition itself.
					if usesName(strings.Replace(code, commentLine.ReplaceAllString(p.text, ""), "", 1), n) {
						used = true
					}
				}
				assert.Equal(t, used, defined, "%v: used %v, defined %v", p.names, used, defined)
			}
		})
	}
}

// A body that uses everything gets the whole library back, in order.
func TestPrelude_AllOfItInOrder(t *testing.T) {
	parts := splitLib("-- opening\n\n-- a doubles\nlocal function a(x)\n  return 2 * x\nend\n\n-- B is a constant\nlocal B, C = 1, 2\n\n-- d uses a\nlocal function d()\n  -- a comment naming B\n  return a(1)\nend\n")
	assert.Equal(t, "-- d uses a\nlocal function d()\n  -- a comment naming B\n  return a(1)\nend\n\n",
		strings.TrimPrefix(prelude(parts, "return d()"), "-- a doubles\nlocal function a(x)\n  return 2 * x\nend\n\n"))
	assert.Equal(t, "-- B is a constant\nlocal B, C = 1, 2\n\n", prelude(parts, "return C"))
	assert.Empty(t, prelude(parts, "-- mentions a in a comment only\nreturn 1"))
}

// usesName is the test's own reading of a use: name as a whole word.
func usesName(text, name string) bool {
	return regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(text)
}
