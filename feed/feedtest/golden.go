package feedtest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// Tolerance is how far a metric may move from its golden value: a value
// passes when it is within Rel times the golden value's magnitude, or
// within Abs (in the metric's own unit) of it, whichever is wider.
type Tolerance struct {
	Rel float64
	Abs float64
}

func (t Tolerance) String() string {
	switch {
	case t.Abs == 0:
		return fmt.Sprintf("%g%%", 100*t.Rel)
	case t.Rel == 0:
		return fmt.Sprintf("%g", t.Abs)
	}
	return fmt.Sprintf("%g%% or %g", 100*t.Rel, t.Abs)
}

// goldenDigits is how many significant digits a golden file keeps: far
// finer than any tolerance worth stating, coarse enough that a refresh
// does not rewrite every line for a change in the last bit.
const goldenDigits = 6

// Golden compares accuracy metrics with those in the JSON file at path (an
// object of metric name to number, as Go's go/printer golden files are
// compared with a test's output). tol gives each metric's tolerance; the
// entry "" applies to metrics without their own. Every metric out of
// tolerance, missing from the file or missing from got is reported with
// tb.Errorf, so one run shows the whole picture.
//
// With update (the package's -update flag) the file is rewritten with got
// instead, and the test passes.
func Golden(tb testing.TB, path string, got map[string]float64, tol map[string]Tolerance, update bool) {
	tb.Helper()
	if update {
		if err := writeGolden(path, got); err != nil {
			tb.Fatalf("update golden metrics: %v", err)
		}
		tb.Logf("wrote %s", path)
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("golden metrics: %v (rerun with -update to create the file)", err)
	}
	var want map[string]float64
	if err := json.Unmarshal(raw, &want); err != nil {
		tb.Fatalf("golden metrics %s: %v", path, err)
	}
	for _, msg := range compareGolden(got, want, tol) {
		tb.Errorf("%s: %s; rerun with -update if the change is intended", path, msg)
	}
}

// compareGolden returns one message per metric of got that is not within
// its tolerance of want, or is in only one of them, sorted by metric.
func compareGolden(got, want map[string]float64, tol map[string]Tolerance) []string {
	var msgs []string
	for name, g := range got {
		w, ok := want[name]
		if !ok {
			msgs = append(msgs, fmt.Sprintf("%s: got %.*g, not in the golden file", name, goldenDigits, g))
			continue
		}
		t, ok := tol[name]
		if !ok {
			t = tol[""]
		}
		if math.IsNaN(g) || math.Abs(g-w) > max(t.Rel*math.Abs(w), t.Abs) {
			msgs = append(msgs, fmt.Sprintf("%s: got %.*g, want %.*g within %v", name, goldenDigits, g, goldenDigits, w, t))
		}
	}
	for name, w := range want {
		if _, ok := got[name]; !ok {
			msgs = append(msgs, fmt.Sprintf("%s: golden %.*g, not computed", name, goldenDigits, w))
		}
	}
	slices.Sort(msgs)
	return msgs
}

// writeGolden writes metrics as an indented JSON object sorted by name,
// each rounded to goldenDigits significant digits.
func writeGolden(path string, metrics map[string]float64) error {
	rounded := make(map[string]float64, len(metrics))
	for name, v := range metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: metric %s is %v", path, name, v)
		}
		rounded[name], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', goldenDigits, 64), 64)
	}
	out, err := json.MarshalIndent(rounded, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}
