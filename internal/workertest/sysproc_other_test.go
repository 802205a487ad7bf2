//go:build unix && !linux

package workertest

import "os/exec"

// setParentDeathSignal does nothing where the kernel offers no parent-death
// signal; the tests' cleanups still kill every worker they started.
func setParentDeathSignal(*exec.Cmd) {}
