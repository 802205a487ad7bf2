//go:build !linux

package main

import (
	"os/exec"
	"time"
)

// setParentDeathSignal does nothing where the kernel offers no parent
// death signal; the program stops its server on every normal exit.
func setParentDeathSignal(*exec.Cmd) {}

// processCPU is not measured here; the statistics show 0.
func processCPU() time.Duration { return 0 }
