package registry_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every registry a test runs is stopped, with all
// its goroutines, before the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
