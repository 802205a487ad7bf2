//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"fmt"
	"syscall"
	"unsafe"
)

// cbreak puts the terminal on fd in cbreak mode (keys arrive one at a time,
// without echo; Ctrl-C still sends SIGINT) and returns what restores it.
// It fails when fd is not a terminal.
func cbreak(fd uintptr) (restore func(), err error) {
	var old syscall.Termios
	if err := ioctlTermios(fd, ioctlGetTermios, &old); err != nil {
		return nil, fmt.Errorf("not a terminal: %w", err)
	}
	raw := old
	raw.Lflag &^= syscall.ICANON | syscall.ECHO
	raw.Cc[syscall.VMIN], raw.Cc[syscall.VTIME] = 1, 0
	if err := ioctlTermios(fd, ioctlSetTermios, &raw); err != nil {
		return nil, fmt.Errorf("set terminal mode: %w", err)
	}
	return func() { _ = ioctlTermios(fd, ioctlSetTermios, &old) }, nil
}

// ioctlTermios reads or writes the terminal attributes of fd.
func ioctlTermios(fd, req uintptr, t *syscall.Termios) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(t))); errno != 0 {
		return errno
	}
	return nil
}
