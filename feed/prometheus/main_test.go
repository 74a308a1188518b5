package prometheus_test

import (
	"flag"
	"os"
	"testing"

	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// TestMain fails the package if a test leaks a goroutine or a prometheus
// process. Under -fuzz the fuzzing engine's own signal goroutine stays
// behind, so the check is left out there.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	promtest.Main(m)
}
