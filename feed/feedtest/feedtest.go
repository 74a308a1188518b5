// Package feedtest gives tests the shared benchmark data (M4, NAB, the
// NASA HTTP trace) that sits beside a checkout of prescale, and compares
// the accuracy they measure on it with golden metrics in testdata.
package feedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// DataDir returns the shared benchmark data directory: $PRESCALE_DATA, or
// shared/data beside the module root (the directory holding go.mod, found
// from the test's working directory). A missing directory fails the test:
// in CI a data test that skipped would prove nothing.
func DataDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("PRESCALE_DATA")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			tb.Fatalf("benchmark data: %v (set PRESCALE_DATA to the shared data directory)", err)
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		tb.Fatalf("benchmark data: %v (set PRESCALE_DATA to the shared data directory)", err)
	}
	return dir
}

// moduleRoot walks up from the working directory to the one with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
