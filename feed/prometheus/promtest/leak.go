package promtest

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

// Main runs the tests of a package that uses Start, then fails it (exit
// status 1) if a goroutine or a child process (a prometheus left running)
// outlives them. Call it from TestMain:
//
//	func TestMain(m *testing.M) { promtest.Main(m) }
//
// Goroutines are counted, so it allows 5 s for connections and servers
// being closed to wind down; a leak prints every goroutine's stack.
func Main(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(before, 5*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		if err := checkChildren(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func checkGoroutines(want int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("goroutine leak: %d goroutines, want %d:\n%s", n, want, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkChildren lists the processes whose parent is this test binary.
func checkChildren() error {
	if runtime.GOOS != "linux" {
		return nil
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return err
	}
	self := os.Getpid()
	var left []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		fields := bytes.Fields(b[i+1:])
		if i < 0 || len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(string(fields[1])); ppid == self {
			left = append(left, string(b[:i+1]))
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("child processes left running: %q", left)
	}
	return nil
}
