package promtest

import "syscall"

// sysProcAttr kills prometheus if the test binary dies without running its
// cleanups (a panic, a -timeout, SIGKILL): no server outlives its test.
// Pdeathsig fires when the thread that started the child exits; the Go
// runtime does not end threads unless a locked goroutine exits.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
