package main

import "syscall"

// serveSysProcAttr kills the server if the test binary dies without
// running its cleanups (a panic, -timeout, SIGKILL), as promtest does for
// prometheus.
func serveSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
