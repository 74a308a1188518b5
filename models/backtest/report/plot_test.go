package report

import (
	"math"
	"testing"
	"time"
)

func TestRibbon(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	line := func(vals ...float64) stepLine { return stepLine{from: start, width: time.Minute, vals: vals} }
	nan := math.NaN()
	rings := ribbon(line(1, 1, 2, nan, 5), line(3, 4, 4, 6, 6))
	// The outline of the steps, hi forwards then lo backwards, with
	// corners only where a value changes; the unknown low ends the ring.
	want := [][][2]float64{
		{{0, 3}, {1, 3}, {1, 4}, {3, 4}, {3, 2}, {2, 2}, {2, 1}, {0, 1}},
		{{4, 6}, {5, 6}, {5, 5}, {4, 5}},
	}
	if len(rings) != len(want) {
		t.Fatalf("%d rings, want %d: %v", len(rings), len(want), rings)
	}
	for i, ring := range rings {
		if len(ring) != len(want[i]) {
			t.Fatalf("ring %d: %v, want %v", i, ring, want[i])
		}
		for j, p := range ring {
			if w := want[i][j]; p.X != chartX(start.Add(time.Duration(w[0])*time.Minute)) || p.Y != w[1] {
				t.Errorf("ring %d point %d: (%v, %v), want minute %v value %v", i, j, p.X, p.Y, w[0], w[1])
			}
		}
	}
}
