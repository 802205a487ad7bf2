package gobuild

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBinary_BuildsOnceRunsAndRemoves(t *testing.T) {
	b := Binary{Pkg: "./testdata/hello"}
	path, err := b.Path()
	require.NoError(t, err)
	again, err := b.Path()
	require.NoError(t, err)
	assert.Equal(t, path, again, "built once")
	out, err := exec.Command(path).Output()
	require.NoError(t, err)
	assert.Equal(t, "hello from a built command\n", string(out))
	b.Remove()
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "Remove deletes the build")
}

func TestBinary_ReportsABuildFailure(t *testing.T) {
	b := Binary{Pkg: "./testdata/missing"}
	defer b.Remove()
	_, err := b.Path()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go build ./testdata/missing")
}
