//go:build !linux

package redistest

import "os/exec"

// setParentDeathSignal does nothing where the kernel offers no parent-death
// signal; there a crashed test run can leave redis-server processes behind.
func setParentDeathSignal(*exec.Cmd) {}
