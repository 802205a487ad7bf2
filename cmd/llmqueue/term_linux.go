package main

import "syscall"

// The ioctl requests that read and set terminal attributes on Linux.
const (
	ioctlGetTermios = syscall.TCGETS
	ioctlSetTermios = syscall.TCSETS
)
