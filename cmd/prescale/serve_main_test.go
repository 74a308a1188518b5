package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestMain removes the binaries the serve tests built, then fails the
// package if a goroutine or a child process (a prescale or prometheus left
// running) outlives the tests: promtest.Main's checks, which cannot run
// code after the tests because it exits itself.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	removeServeBinaries()
	if code == 0 {
		if err := checkLeftovers(before, 5*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkLeftovers waits up to wait for the goroutines to wind down to want
// and reports any child process still running.
func checkLeftovers(want int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for n := runtime.NumGoroutine(); n > want; n = runtime.NumGoroutine() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("goroutine leak: %d goroutines, want %d:\n%s", n, want, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var left []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		if fields := bytes.Fields(b[i+1:]); len(fields) >= 2 {
			if ppid, _ := strconv.Atoi(string(fields[1])); ppid == os.Getpid() {
				left = append(left, string(b[:i+1]))
			}
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("child processes left running: %q", left)
	}
	return nil
}
