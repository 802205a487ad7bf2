package otel_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Only this package may link OpenTelemetry: a program that imports llmqueue
// alone must not carry it.
func TestRoot_DoesNotLinkOpenTelemetry(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		// go test may run with a PATH that lacks the toolchain.
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "list", "-deps",
		"github.com/llmqueue/llmqueue", "github.com/llmqueue/llmqueue/otel").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "go.opentelemetry.io/otel/trace\n", "the check looks for the right name")

	out, err = exec.CommandContext(ctx, goBin, "list", "-deps", "github.com/llmqueue/llmqueue").Output()
	require.NoError(t, err)
	for dep := range strings.Lines(string(out)) {
		require.False(t, strings.HasPrefix(dep, "go.opentelemetry.io/"),
			"package llmqueue depends on %s; keep OpenTelemetry in package otel", strings.TrimSpace(dep))
	}
}
