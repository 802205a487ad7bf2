//go:build linux

package workertest

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill a worker if the test binary
// dies without running its cleanups, so no worker outlives a crashed run.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
