package registry

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
)

// noSource is a Source with no data, for tests that drive a registry's
// state directly.
type noSource struct{}

func (noSource) Range(context.Context, string, time.Time, time.Time, time.Duration) (*feed.Series, error) {
	return nil, errors.New("no source")
}

var stateStart = time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)

func stateTarget() models.Target {
	t := models.DefaultTarget()
	t.Name, t.Query = "web", "load"
	t.Step, t.History = time.Minute, 2*24*time.Hour
	t.CapacityPerReplica, t.LeadTime, t.Margin = 10, 5*time.Minute, 2*time.Minute
	return t
}

// TestEvents checks that a target keeps the last maxEvents anomaly events
// the detector reported, and returns those overlapping [start, end).
func TestEvents(t *testing.T) {
	r, err := New(noSource{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := func(i int) time.Time { return stateStart.Add(time.Duration(i) * time.Minute) }
	s := r.newState(stateTarget(), OriginAPI)
	for i := range maxEvents + 5 {
		s.events.add(models.AnomalyEvent{Start: at(2 * i), End: at(2*i + 1), Kind: models.AnomalyLive, Score: 1})
	}
	got := s.anomalies(at(0), at(4*maxEvents))
	slices.SortFunc(got, func(a, b models.AnomalyEvent) int { return a.Start.Compare(b.Start) })
	if len(got) != maxEvents || got[0].Start != at(10) || got[len(got)-1].Start != at(2*(maxEvents+4)) {
		t.Errorf("%d spans from %v to %v, want %d from %v to %v", len(got), got[0].Start, got[len(got)-1].Start,
			maxEvents, at(10), at(2*(maxEvents+4)))
	}
	// [start, end) overlaps: a span ending at start, or starting at end,
	// does not.
	if got := s.anomalies(at(11), at(12)); len(got) != 0 {
		t.Errorf("anomalies in [11, 12): %+v", got)
	}
	if got := s.anomalies(at(10), at(11)); len(got) != 1 || got[0].Start != at(10) {
		t.Errorf("anomalies in [10, 11): %+v", got)
	}
}

// stateFit fits a daily cycle of stateTarget's history.
func stateFit(t *testing.T) *forecast.Fitted {
	t.Helper()
	y := make([]float64, 2*1440)
	for i := range y {
		y[i] = 100 + 50*math.Sin(2*math.Pi*float64(i)/1440) + 5*math.Sin(float64(i)*1.3)
	}
	f, err := forecast.Fit(y, &forecast.Options{Model: forecast.KindHoltWinters, Horizon: 48, Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCachedForecast checks the cached forecast (quantiles from offsets
// found once per fit) and Registry.Forecast (quantiles computed outside
// the target's lock) against forecast.Fitted.Forecast.
func TestCachedForecast(t *testing.T) {
	r, err := New(noSource{}, &Options{Quantiles: []float64{0.05, 0.5, 0.95}})
	if err != nil {
		t.Fatal(err)
	}
	f := stateFit(t)
	var s *targetState
	tg := stateTarget()
	// A lead window of 7 steps, and one of 62 (past the 48 calibrated).
	for _, lead := range []time.Duration{5 * time.Minute, time.Hour} {
		tg.LeadTime = lead
		s = r.newState(tg, OriginAPI)
		s.fitted, s.plan, s.lastObserved = f, r.newPlan(f, &tg), stateStart
		s.refreshForecast()

		levels := append([]float64{tg.Quantile}, r.opts.Quantiles...)
		want, err := f.Forecast(s.plan.steps, levels)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.fc, want.Quantiles[0].Values) || !s.fcStart.Equal(stateStart.Add(tg.Step)) {
			t.Errorf("lead %v: cached forecast %v from %v\nwant %v from %v", lead, s.fc, s.fcStart, want.Quantiles[0].Values, stateStart.Add(tg.Step))
		}
		steps := tg.LeadSteps()
		if want := int((lead + tg.Margin) / tg.Step); steps != want {
			t.Fatalf("lead %v: %d steps, want %d", lead, steps, want)
		}
		for i, q := range want.Quantiles[1:] {
			if s.leadValues[i] != q.Values[steps-1] {
				t.Errorf("lead %v: lead forecast of %v: %v, want %v", lead, q.Level, s.leadValues[i], q.Values[steps-1])
			}
		}
	}

	r.targets[tg.Name] = s
	for _, h := range []int{1, 10, 200} { // 200 is beyond the calibrated 48 steps
		quantiles := []float64{0.1, 0.9}
		v, err := r.Forecast(tg.Name, h, quantiles, 0)
		if err != nil {
			t.Fatal(err)
		}
		want, err := f.Forecast(h, quantiles)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v.Point, want.Point) || !slices.Equal(v.Notes, want.Notes) || v.Model != want.Model {
			t.Errorf("horizon %d: point, notes or model differ:\n%v %q\n%v %q", h, v.Point, v.Notes, want.Point, want.Notes)
		}
		for i := range quantiles {
			if !slices.Equal(v.Quantiles[i].Values, want.Quantiles[i].Values) || v.Quantiles[i].Level != want.Quantiles[i].Level {
				t.Errorf("horizon %d, quantile %v: %v\nwant %v", h, quantiles[i], v.Quantiles[i].Values, want.Quantiles[i].Values)
			}
		}
	}
}

func TestHistoryRing(t *testing.T) {
	at := func(i int) time.Time { return stateStart.Add(time.Duration(i) * time.Minute) }
	h := newHistoryRing(4)
	h.put(at(0), 0, time.Minute)
	h.put(at(1), 1, time.Minute)
	h.put(at(1), 9, time.Minute) // not after the newest: ignored
	h.put(at(3), 3, time.Minute) // step 2 is a gap
	got, start := h.last(10, time.Minute)
	if !equalNaN(got, []float64{0, 1, math.NaN(), 3}) || start != at(0) {
		t.Errorf("last: %v from %v", got, start)
	}
	h.put(at(5), 5, time.Minute)
	got, start = h.last(3, time.Minute)
	if !equalNaN(got, []float64{3, math.NaN(), 5}) || start != at(3) {
		t.Errorf("after wrapping: %v from %v", got, start)
	}
	h.resize(2, true, time.Minute)
	if got, start = h.last(5, time.Minute); !equalNaN(got, []float64{math.NaN(), 5}) || start != at(4) {
		t.Errorf("after resize: %v from %v", got, start)
	}
	h.put(at(100), 100, time.Minute) // a gap longer than the ring
	if got, start = h.last(5, time.Minute); !equalNaN(got, []float64{100}) || start != at(100) {
		t.Errorf("after a long gap: %v from %v", got, start)
	}
	none := newHistoryRing(0)
	none.put(at(0), 1, time.Minute)
	if got, _ := none.last(5, time.Minute); got != nil {
		t.Errorf("a ring of no points holds %v", got)
	}
}

func equalNaN(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) })
}

// TestReplay checks that a model installed behind the streamed data
// catches up from the history cache, and only when the cache holds every
// point it missed.
func TestReplay(t *testing.T) {
	r, err := New(noSource{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg := stateTarget()
	at := func(i int) time.Time { return stateStart.Add(time.Duration(i) * tg.Step) }
	for _, c := range []struct {
		name     string
		capacity int
		caughtUp bool
	}{
		{"cache holds the points", 10, true},
		{"cache too short", 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := r.newState(tg, OriginAPI)
			s.history = newHistoryRing(c.capacity)
			for i := -3; i <= 3; i++ {
				s.ingest(&feed.Series{Start: at(i), Step: tg.Step, Values: []float64{float64(100 + i)}}, 0)
			}
			f := stateFit(t)
			seen := f.Observations
			s.fitted, s.plan, s.lastObserved = f, r.newPlan(f, &tg), at(0)
			if got := s.replay(); got != c.caughtUp {
				t.Fatalf("replay: %v, want %v", got, c.caughtUp)
			}
			want, observed := at(0), seen
			if c.caughtUp {
				want, observed = at(3), seen+3
			}
			if !s.lastObserved.Equal(want) || f.Observations != observed {
				t.Errorf("last observed %v after %d observations, want %v after %d", s.lastObserved, f.Observations, want, observed)
			}
		})
	}
}

// TestLoopFitsNewTargetsFirst checks that the run loop hands the fit of a
// target without a model to a worker before the refits of targets that
// have one, even when those fell due earlier, and that RunDue keeps the
// same order.
func TestLoopFitsNewTargetsFirst(t *testing.T) {
	r, err := New(noSource{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := r.now()
	var refits []*task
	for i := range 3 {
		s := &targetState{}
		s.modeled.Store(true)
		refits = append(refits, &task{state: s, kind: taskFit, index: -1})
		r.sched.schedule(refits[i], now.Add(-time.Duration(10-i)*time.Minute))
	}
	first := &task{state: &targetState{}, kind: taskFit, index: -1}
	r.sched.schedule(first, now.Add(-time.Minute))

	fits := make(chan *task)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.loop(ctx, fits, make(chan *task), nil); close(done) }()
	var got []*task
	for range 4 {
		got = append(got, <-fits)
	}
	cancel()
	<-done
	if want := append([]*task{first}, refits...); !slices.Equal(got, want) {
		t.Errorf("fits handed out in the order %v, want the new target's first, then the refits by due time", got)
	}
	if fitOrder(first) != 0 || fitOrder(refits[0]) != 1 {
		t.Errorf("fitOrder: %d for a first fit, %d for a refit", fitOrder(first), fitOrder(refits[0]))
	}
}
