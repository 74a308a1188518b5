package feedtest

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCompareGolden(t *testing.T) {
	want := map[string]float64{"mase": 0.8, "coverage80": 0.77}
	tol := map[string]Tolerance{"": {Rel: 0.01}, "coverage80": {Abs: 0.01}}
	tests := []struct {
		name string
		got  map[string]float64
		want []string // the metrics reported, in order
	}{
		{"equal", map[string]float64{"mase": 0.8, "coverage80": 0.77}, nil},
		{"within tolerance", map[string]float64{"mase": 0.8079, "coverage80": 0.7799}, nil},
		{"relative exceeded", map[string]float64{"mase": 0.809, "coverage80": 0.77}, []string{"mase"}},
		{"absolute exceeded", map[string]float64{"mase": 0.8, "coverage80": 0.781}, []string{"coverage80"}},
		{"better is a change too", map[string]float64{"mase": 0.7, "coverage80": 0.77}, []string{"mase"}},
		{"NaN", map[string]float64{"mase": math.NaN(), "coverage80": 0.77}, []string{"mase"}},
		{"missing and extra", map[string]float64{"mase": 0.8, "smape": 8.4}, []string{"coverage80", "smape"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs := compareGolden(tc.got, want, tol)
			var reported []string
			for _, m := range msgs {
				reported = append(reported, m[:strings.Index(m, ":")])
			}
			if !reflect.DeepEqual(reported, tc.want) {
				t.Errorf("reported %q, want metrics %v", msgs, tc.want)
			}
		})
	}
	msgs := compareGolden(map[string]float64{"mase": 0.9}, map[string]float64{"mase": 0.8}, tol)
	if len(msgs) != 1 || msgs[0] != "mase: got 0.9, want 0.8 within 1%" {
		t.Errorf("message %q, want the metric, both values and the tolerance", msgs)
	}
}

// recorder is a testing.TB that keeps what Errorf reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestGoldenUpdateThenCompare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "testdata", "golden.json")
	tol := map[string]Tolerance{"": {Rel: 0.01}}
	Golden(t, path, map[string]float64{"mase": 0.80172345678}, tol, true)

	r := &recorder{TB: t}
	Golden(r, path, map[string]float64{"mase": 0.8017}, tol, false)
	if len(r.errs) != 0 {
		t.Fatalf("the value just written does not compare equal: %q", r.errs)
	}
	Golden(r, path, map[string]float64{"mase": 0.9}, tol, false)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "want 0.801723 within 1%") || !strings.Contains(r.errs[0], "-update") {
		t.Fatalf("a regression reported as %q, want the rounded golden value, the tolerance and how to refresh it", r.errs)
	}
}
