// Package gobuild builds a command of this module once per test binary, so
// tests can start it as real OS processes.
package gobuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// Binary is a command built on first use; the zero value needs Pkg.
type Binary struct {
	Pkg string // the package path to build

	once sync.Once
	dir  string
	path string
	err  error
}

// Path builds the command the first time it is called and returns its path
// or the build's error. Building lazily means a run whose tests all skip
// builds nothing.
func (b *Binary) Path() (string, error) {
	b.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			// go test may run with a PATH that lacks the toolchain.
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if b.dir, b.err = os.MkdirTemp("", "llmqueue-build-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, filepath.Base(b.Pkg))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, goBin, "build", "-o", b.path, b.Pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %w\n%s", b.Pkg, err, out)
		}
	})
	return b.path, b.err
}

// Remove deletes what Path built; call it from TestMain after m.Run.
func (b *Binary) Remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}
