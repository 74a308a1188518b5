package api_test

import (
	"testing"

	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// TestMain fails the package if a goroutine (a stream handler, a server)
// outlives the tests.
func TestMain(m *testing.M) { promtest.Main(m) }
