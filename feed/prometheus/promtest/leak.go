package promtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"go.uber.org/goleak"
)

// Main runs the tests of a package that starts goroutines or servers, then
// fails it (exit status 1) if a goroutine (goleak) or a child process (a
// prometheus left running) outlives them. Call it from TestMain:
//
//	func TestMain(m *testing.M) { promtest.Main(m) }
//
// opts are goleak's, typically IgnoreTopFunction for a library's
// goroutine that lives as long as the process; Main adds its own
// goleak.Cleanup, so opts must not hold one. m is usually the *testing.M;
// a wrapper whose Run cleans up after the tests runs that before the
// checks.
func Main(m goleak.TestingM, opts ...goleak.Option) {
	opts = append(opts, goleak.Cleanup(func(code int) {
		if code == 0 {
			if left, err := Children(); err != nil {
				fmt.Fprintf(os.Stderr, "promtest: list child processes: %v\n", err)
				code = 1
			} else if len(left) > 0 {
				fmt.Fprintf(os.Stderr, "promtest: child processes left running: %q\n", left)
				code = 1
			}
		}
		os.Exit(code)
	}))
	goleak.VerifyTestMain(m, opts...)
}

// Children lists the processes whose parent is this test binary, as
// "pid (comm)": servers a test started and did not stop. It lists none
// outside Linux.
func Children() ([]string, error) {
	if runtime.GOOS != "linux" {
		return nil, nil
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
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
		if i < 0 {
			continue
		}
		fields := bytes.Fields(b[i+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(string(fields[1])); ppid == self {
			left = append(left, string(b[:i+1]))
		}
	}
	return left, nil
}
