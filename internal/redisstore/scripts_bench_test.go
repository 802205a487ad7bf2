package redisstore

import (
	"strings"
	"testing"
)

// BenchmarkLoadScripts is what building every script costs a process at
// start-up (every program that imports llmqueue pays it once).
func BenchmarkLoadScripts(b *testing.B) {
	entries, err := luaFiles.ReadDir("lua")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for _, e := range entries {
			if name := strings.TrimSuffix(e.Name(), ".lua"); name != "lib" {
				load(name)
			}
		}
	}
}
