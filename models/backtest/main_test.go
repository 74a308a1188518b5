package backtest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that a backtest leaves no goroutine behind: its fits and
// replays run on workers that end with it, also when it is cancelled.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
