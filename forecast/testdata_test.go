package forecast_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
)

// dataDir is the shared benchmark data: $PRESCALE_DATA, or ../../shared/data
// beside the checkout. A missing directory fails the test: in CI a skipped
// data test would prove nothing.
func dataDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("PRESCALE_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		tb.Fatalf("benchmark data: %v (set PRESCALE_DATA to the shared data directory)", err)
	}
	return dir
}

// m4Hourly reads the M4 Hourly training and test series.
func m4Hourly(tb testing.TB) (train, test []feed.Series) {
	tb.Helper()
	dir := dataDir(tb)
	train, err := feed.ReadM4File(filepath.Join(dir, "m4", "Hourly-train.csv"), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	test, err = feed.ReadM4File(filepath.Join(dir, "m4", "Hourly-test.csv"), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	if len(train) != 414 || len(test) != 414 {
		tb.Fatalf("M4 Hourly: %d training and %d test series, want 414", len(train), len(test))
	}
	return train, test
}
