package forecast_test

import (
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/feedtest"
)

// update rewrites the golden metrics in testdata instead of comparing.
var update = flag.Bool("update", false, "rewrite golden files")

func dataDir(tb testing.TB) string { return feedtest.DataDir(tb) }

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
