package llmqueue_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// tokenizerModule is the tokenizer whose embedded vocabularies add about
// 12 MB to a binary; only package tiktoken may import it.
const tokenizerModule = "github.com/tiktoken-go/tokenizer"

// A program that imports only llmqueue must not link the tokenizer: it
// doubles the binary (about 10 MB without, 22 MB with) for counts the
// program may never need. Package tiktoken links it, which also shows the
// check looks for the right name.
func TestRoot_DoesNotLinkTheTokenizer(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		// go test may run with a PATH that lacks the toolchain.
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// Deps is every package a package imports, directly or not; test
	// files are not included.
	cmd := exec.CommandContext(ctx, goBin, "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`,
		".", "./tiktoken")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			deps[fields[0]] = fields[1:]
		}
	}
	links := func(pkg string) bool {
		got, ok := deps[pkg]
		if !ok {
			t.Fatalf("go list did not report %s:\n%s", pkg, out)
		}
		return slices.ContainsFunc(got, func(d string) bool {
			return d == tokenizerModule || strings.HasPrefix(d, tokenizerModule+"/")
		})
	}
	if links("github.com/llmqueue/llmqueue") {
		t.Errorf("package llmqueue depends on %s; keep the tokenizer in package tiktoken", tokenizerModule)
	}
	if !links("github.com/llmqueue/llmqueue/tiktoken") {
		t.Errorf("package tiktoken does not depend on %s: is the module path in this test still right?", tokenizerModule)
	}
}
