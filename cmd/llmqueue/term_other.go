//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import "errors"

// cbreak is not supported here: top then quits on Ctrl-C only.
func cbreak(fd uintptr) (restore func(), err error) {
	return nil, errors.New("terminal modes not supported on this system")
}
