package anomaly_test

import (
	"flag"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/feedtest"
)

// update rewrites the golden metrics in testdata instead of comparing.
var update = flag.Bool("update", false, "rewrite golden files")

func dataDir(t testing.TB) string { return feedtest.DataDir(t) }

// readMinuteCSV reads a "timestamp,requests" file of one-minute steps onto
// a regular grid, NaN where rows are missing.
func readMinuteCSV(t testing.TB, path string) (start time.Time, y []float64) {
	t.Helper()
	s, err := feed.ReadCSVFile(path, &feed.CSVOptions{Column: "requests", Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return s.Start, s.Values
}
