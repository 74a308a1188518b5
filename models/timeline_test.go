package models

import (
	"testing"
	"time"
)

// TestTimeline checks the schedule's rules one by one: the refit
// interval, the backoff of failing fits, the spacing of level-shift
// refits, a refit asked for while a fit runs, a restore, a change of the
// refit interval, and the points a fetch takes.
func TestTimeline(t *testing.T) {
	tg := DefaultTarget()
	tg.Step, tg.History, tg.RefitInterval = time.Minute, 10*time.Hour, time.Hour
	t0 := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	check := func(what string, got, want time.Time) {
		t.Helper()
		if !got.Equal(want) {
			t.Errorf("%s: %v, want %v", what, got.Format(time.TimeOnly), want.Format(time.TimeOnly))
		}
	}

	tl := NewTimeline(&tg, at(0), nil)
	if !tl.Due(at(0)) || tl.Due(at(0).Add(-time.Second)) {
		t.Error("the first fit is due when the target is declared, not before")
	}
	tl.BeginFit()
	if tl.Due(at(0)) {
		t.Error("a fit is not due while one runs")
	}
	check("after a fit", tl.Fitted(at(0)), at(60))

	// Failing fits back off 1, 2, 4, ... minutes, at most the interval.
	for i, want := range []int{1, 2, 4, 8, 16, 32, 60, 60} {
		tl.BeginFit()
		if d := tl.FitFailed(at(100)); d != time.Duration(want)*time.Minute {
			t.Errorf("failure %d: retry in %v, want %dm", i+1, d, want)
		}
	}
	if !tl.Failing() || tl.Behind(at(100)) {
		t.Error("a failing schedule keeps its backoff when the model falls behind")
	}
	tl.BeginFit()
	check("after a success", tl.Fitted(at(200)), at(260))

	// Level shifts: at once, then no sooner than 10 steps after the last.
	check("a shift", tl.Shift(at(210)), at(210))
	check("the next fit", tl.Next(), at(210))
	tl.BeginFit()
	tl.Fitted(at(210))
	check("a shift 3 steps later", tl.Shift(at(213)), at(220))
	check("a shift long after", tl.Shift(at(300)), at(300))

	// A shift found while a fit runs is not cancelled by that fit.
	tl.BeginFit()
	tl.Shift(at(305))
	check("shown while fitting", tl.NextRefit(), at(310))
	check("the fit ends", tl.Fitted(at(306)), at(310))
	tl.BeginFit()
	check("a fit with no request meanwhile", tl.Fitted(at(311)), at(371))

	// A model behind: refit at once.
	if !tl.Behind(at(320)) {
		t.Error("a model behind asks for a refit")
	}
	check("behind", tl.Next(), at(320))

	// A restore refits a step and a share of min(interval, 10m) later.
	check("restored", tl.Restored(at(400), 0.5), at(406))
	// A restore that cannot serve as it is (its events' effects did not
	// come back) is refitted at once, and says so.
	check("refit now", tl.RefitNow(at(400)), at(400))
	check("refit now, next", tl.NextRefit(), at(400))
	tl.Restored(at(400), 0.5)
	// A new interval counts from the last fit.
	check("new interval", tl.SetRefitInterval(2*time.Hour, at(400)), at(520))

	// A fetch takes the points after the watermark, at most MaxGap (300)
	// steps back; skipping some says so.
	for _, c := range []struct {
		name      string
		watermark time.Time
		end       time.Time
		start     time.Time
		skipped   bool
	}{
		{"nothing taken yet", time.Time{}, at(1000), at(996), false},
		{"caught up", at(999), at(1000), at(1000), false},
		{"up to date", at(1000), at(1000), at(1001), false},
		{"far behind", at(100), at(1000), at(700), true},
	} {
		start, skipped := FetchStart(&tg, c.watermark, c.end, 5)
		if !start.Equal(c.start) || skipped != c.skipped {
			t.Errorf("%s: start %v skipped %v, want %v %v", c.name, start.Format(time.TimeOnly), skipped, c.start.Format(time.TimeOnly), c.skipped)
		}
	}
}
