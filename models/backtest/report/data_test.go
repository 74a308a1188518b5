package report

import (
	"math"
	"testing"
	"time"
)

func TestBucketSegments(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	x := func(m int) float64 { return chartX(start.Add(time.Duration(m) * time.Minute)) }
	nan := math.NaN()
	tests := []struct {
		name   string
		vals   []float64
		width  time.Duration
		reduce func([]float64) float64
		want   [][][2]float64 // segments of (minute, value)
	}{
		{"full resolution", []float64{1, 1, 2, nan, 3}, 0, maxOf,
			[][][2]float64{{{0, 1}, {2, 2}, {3, 2}}, {{4, 3}, {5, 3}}}},
		{"max per bucket", []float64{1, 5, nan, nan, 2, 2}, 2 * time.Minute, maxOf,
			[][][2]float64{{{0, 5}, {2, 5}}, {{4, 2}, {6, 2}}}},
		{"min per bucket", []float64{1, 5, nan, 4, 2}, 2 * time.Minute, minOf,
			[][][2]float64{{{0, 1}, {2, 4}, {4, 2}, {6, 2}}}},
		{"all missing", []float64{nan, nan}, 0, maxOf, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := bucket(tt.vals, start, time.Minute, start, start.Add(time.Duration(len(tt.vals))*time.Minute), tt.width, tt.reduce)
			segs := l.segments()
			if len(segs) != len(tt.want) {
				t.Fatalf("%d segments, want %d: %v", len(segs), len(tt.want), segs)
			}
			for i, seg := range segs {
				if len(seg) != len(tt.want[i]) {
					t.Fatalf("segment %d: %v, want %v", i, seg, tt.want[i])
				}
				for j, p := range seg {
					if w := tt.want[i][j]; p.X != x(int(w[0])) || p.Y != w[1] {
						t.Errorf("segment %d point %d: (%v, %v), want minute %v value %v", i, j, p.X, p.Y, w[0], w[1])
					}
				}
			}
		})
	}
}

func TestSparse(t *testing.T) {
	var xs []float64
	for i := range 500 {
		xs = append(xs, float64(i)/5) // 500 shifts over [0, 100)
	}
	got := sparse(xs, 0, 100, 40)
	if len(got) != 40 {
		t.Fatalf("%d markers, want 40", len(got))
	}
	for i, x := range got {
		if lo := 2.5 * float64(i); x < lo || x >= lo+2.5 {
			t.Errorf("marker %d at %v, want the first shift in [%v, %v)", i, x, lo, lo+2.5)
		}
	}
	if few := xs[:40]; len(sparse(few, 0, 100, 40)) != 40 {
		t.Error("40 shifts were thinned")
	}
}
