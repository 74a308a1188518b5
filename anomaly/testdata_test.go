package anomaly_test

import (
	"encoding/csv"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// dataDir returns $PRESCALE_DATA, else ../../shared/data; a missing
// directory fails the test, as the data is part of the test.
func dataDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PRESCALE_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("benchmark data missing (set PRESCALE_DATA): %v", err)
	}
	return dir
}

// readMinuteCSV reads a "timestamp,requests" file of one-minute steps onto
// a regular grid, NaN where rows are missing.
func readMinuteCSV(t testing.TB, path string) (start time.Time, y []float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return start, y
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ts, err := time.Parse(time.DateTime, rec[0])
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if y == nil {
			start = ts
		}
		i := int(ts.Sub(start) / time.Minute)
		for len(y) < i {
			y = append(y, math.NaN())
		}
		y = append(y, v)
	}
}
