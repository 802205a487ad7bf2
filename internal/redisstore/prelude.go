package redisstore

import (
	"regexp"
	"strings"
)

// A script carries only the parts of lib.lua it uses. Redis caches a
// script compiled, but its top level runs on every call: prepending the
// whole library made every call define some 25 closures it mostly never
// called, a measurable share of a one-request Add.

// libDef matches a top-level definition in lib.lua: "local function name"
// or "local NAME[, NAME2] =".
var libDef = regexp.MustCompile(`^local (?:function ([A-Za-z_]\w*)|([A-Za-z_][\w, ]*?)\s*=)`)

// libPart is one top-level definition of lib.lua with the comment above it.
type libPart struct {
	names []string
	text  string
}

// splitLib cuts lib.lua into its top-level definitions, in order; the
// file's opening comment belongs to none.
func splitLib(lib string) []libPart {
	var parts []libPart
	var pending strings.Builder // comment lines waiting for their definition
	for line := range strings.Lines(lib) {
		m := libDef.FindStringSubmatch(line)
		switch {
		case m != nil:
			names := []string{m[1]}
			if m[1] == "" {
				names = strings.Split(strings.ReplaceAll(m[2], " ", ""), ",")
			}
			parts = append(parts, libPart{names: names, text: pending.String() + line})
			pending.Reset()
		case strings.TrimSpace(line) == "":
			pending.Reset()
		case len(parts) > 0 && pending.Len() == 0 && !strings.HasPrefix(line, "--"):
			parts[len(parts)-1].text += line // the definition's body
		default:
			pending.WriteString(line)
		}
	}
	return parts
}

// commentLine matches a line that is only a Lua comment: a name in a
// comment is not a use.
var commentLine = regexp.MustCompile(`(?m)^\s*--.*$`)

// identifier matches a Lua name.
var identifier = regexp.MustCompile(`[A-Za-z_]\w*`)

// namesIn returns the names Lua source text mentions outside whole-line
// comments.
func namesIn(text string) map[string]bool {
	names := map[string]bool{}
	for _, n := range identifier.FindAllString(commentLine.ReplaceAllString(text, ""), -1) {
		names[n] = true
	}
	return names
}

// prelude returns the parts that body uses, directly or through another
// part, in their order (a Lua local exists only below its definition).
func prelude(parts []libPart, body string) string {
	need := make([]bool, len(parts))
	var mark func(text string)
	mark = func(text string) {
		used := namesIn(text)
		for i, p := range parts {
			if need[i] {
				continue
			}
			for _, n := range p.names {
				if used[n] {
					need[i] = true
					mark(p.text)
					break
				}
			}
		}
	}
	mark(body)
	var b strings.Builder
	for i, p := range parts {
		if need[i] {
			b.WriteString(p.text)
			b.WriteString("\n")
		}
	}
	return b.String()
}
