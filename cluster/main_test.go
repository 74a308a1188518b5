package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every Membership a test runs stops with all its
// goroutines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
