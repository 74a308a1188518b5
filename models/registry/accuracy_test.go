package registry

import (
	"math"
	"testing"
	"time"
)

// TestAccuracyTracker checks the scores on a case computed by hand.
func TestAccuracyTracker(t *testing.T) {
	at := func(i int) time.Time { return time.Date(2025, 1, 1, 0, i, 0, 0, time.UTC) }
	a := newAccuracyTracker(4, time.Hour)
	a.add(at(1), 100, 90, 110)
	a.add(at(2), 200, 180, 220)
	a.add(at(3), 50, 40, 60)
	a.add(at(2), 999, 0, 0)      // not after the newest: ignored
	a.observe(at(1), 110)        // error -10, inside (at the upper bound)
	a.observe(at(2), math.NaN()) // a gap: dropped, not scored
	a.observe(at(3), 40)         // error +10, inside (at the lower bound)
	a.add(at(4), 80, 70, 90)
	a.observe(at(5), 100) // nothing pending for 5; 4's actual never came
	a.add(at(6), 100, 95, 105)
	a.observe(at(6), 120) // error -20, outside
	a.observe(at(6), 0)   // already scored

	// sum|e| = 10+10+20 = 40, sum e = -10+10-20 = -20,
	// sum|actual| = 110+40+120 = 270, inside 2 of 3.
	got := a.summary()
	want := Accuracy{Points: 3, WAPE: 40.0 / 270, Bias: -20.0 / 270, Coverage: 2.0 / 3, IntervalLow: 0.1, IntervalHigh: 0.9}
	const tol = 1e-12
	if got.Points != want.Points || math.Abs(got.WAPE-want.WAPE) > tol || math.Abs(got.Bias-want.Bias) > tol ||
		math.Abs(got.Coverage-want.Coverage) > tol || got.IntervalLow != want.IntervalLow || got.IntervalHigh != want.IntervalHigh {
		t.Errorf("summary %+v, want %+v", got, want)
	}
}

func TestAccuracyTrackerFull(t *testing.T) {
	at := func(i int) time.Time { return time.Date(2025, 1, 1, 0, i, 0, 0, time.UTC) }
	a := newAccuracyTracker(2, time.Hour)
	for i := 1; i <= 3; i++ {
		a.add(at(i), 10, 0, 20)
	}
	a.observe(at(1), 5) // dropped when the ring was full
	if got := a.summary(); got.Points != 0 {
		t.Fatalf("scored a dropped forecast: %+v", got)
	}
	a.observe(at(2), 5)
	a.observe(at(3), 20)
	// |e| 5 + 10 = 15, e = 5 - 10 = -5, |actual| = 25.
	got := a.summary()
	if got.Points != 2 || math.Abs(got.WAPE-0.6) > 1e-12 || math.Abs(got.Bias+0.2) > 1e-12 || got.Coverage != 1 {
		t.Errorf("summary %+v, want 2 points, WAPE 0.6, bias -0.2, coverage 1", got)
	}
	empty := newAccuracyTracker(1, time.Hour)
	if got := empty.summary(); got.WAPE != 0 || got.Bias != 0 || got.Coverage != 0 {
		t.Errorf("empty tracker: %+v", got)
	}
}

// TestAccuracyWindows checks the scores window by window against the same
// sums over each window's points, and that only the last accuracyWindows
// are kept.
func TestAccuracyWindows(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newAccuracyTracker(4, time.Hour)
	// Hour 0: errors +10 and -10 on actuals 100 (both inside); hour 2:
	// error +30 on 60 (outside). Hour 1 has no actual.
	for _, c := range []struct {
		min            int
		fc, lo, hi, at float64
	}{{10, 110, 90, 120, 100}, {50, 90, 80, 105, 100}, {130, 90, 80, 85, 60}} {
		a.add(t0.Add(time.Duration(c.min)*time.Minute), c.fc, c.lo, c.hi)
		a.observe(t0.Add(time.Duration(c.min)*time.Minute), c.at)
	}
	got := a.windowsIn(t0, t0.Add(3*time.Hour))
	if len(got) != 2 {
		t.Fatalf("%d windows, want 2 (hours 0 and 2): %+v", len(got), got)
	}
	if w := got[0]; !w.Start.Equal(t0) || !w.End.Equal(t0.Add(time.Hour)) || w.Points != 2 || w.WAPE != 0.1 || w.Bias != 0 || w.Coverage != 1 {
		t.Errorf("hour 0: %+v, want 2 points, WAPE 0.1, bias 0, coverage 1", w)
	}
	if w := got[1]; !w.Start.Equal(t0.Add(2*time.Hour)) || w.Points != 1 || w.WAPE != 0.5 || w.Bias != 0.5 || w.Coverage != 0 {
		t.Errorf("hour 2: %+v, want 1 point, WAPE 0.5, bias 0.5, coverage 0", w)
	}
	if got := a.windowsIn(t0.Add(time.Hour), t0.Add(2*time.Hour)); len(got) != 0 {
		t.Errorf("hour 1 alone: %+v, want none", got)
	}
	for h := 3; h < 3+accuracyWindows; h++ {
		at := t0.Add(time.Duration(h) * time.Hour)
		a.add(at, 1, 0, 2)
		a.observe(at, 1)
	}
	all := a.windowsIn(t0, t0.Add(100*time.Hour))
	if len(all) != accuracyWindows || !all[0].Start.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("after %d more hours: %d windows from %v, want %d from hour 3", accuracyWindows, len(all), all[0].Start, accuracyWindows)
	}
}
