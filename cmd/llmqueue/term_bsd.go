//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package main

import "syscall"

// The ioctl requests that read and set terminal attributes on the BSDs.
const (
	ioctlGetTermios = syscall.TIOCGETA
	ioctlSetTermios = syscall.TIOCSETA
)
