package registry

import (
	"math"
	"time"
)

// The quantile interval whose coverage Accuracy reports.
const (
	accuracyLow  = 0.1
	accuracyHigh = 0.9
)

// accuracyTracker scores a target's live forecasts: each time the model
// advances, the forecast for the end of the lead window is put aside, and
// when the actual load for that time arrives it is scored. The sums run
// since the tracker was made: when the target was declared, or its lead
// window or model configuration last changed (refits keep it).
type accuracyTracker struct {
	// pending is a ring of forecasts waiting for their actual, oldest at
	// head, their times strictly increasing.
	pending []pendingForecast
	head, n int

	points    int
	absErr    float64 // sum |forecast - actual|
	err       float64 // sum (forecast - actual)
	absActual float64 // sum |actual|
	inside    int     // actuals in [low, high]
}

// pendingForecast is a forecast for time at: the point value and the
// accuracyLow and accuracyHigh quantiles.
type pendingForecast struct {
	at               time.Time
	point, low, high float64
}

// newAccuracyTracker returns a tracker that keeps up to capacity pending
// forecasts: the lead window in steps, plus the steps a late actual may
// take.
func newAccuracyTracker(capacity int) accuracyTracker {
	return accuracyTracker{pending: make([]pendingForecast, max(capacity, 1))}
}

// add puts aside a forecast for time at. A forecast for a time not after
// the newest pending one is ignored (a refit's first forecast repeats the
// streaming one); when the ring is full the oldest is dropped.
func (a *accuracyTracker) add(at time.Time, point, low, high float64) {
	if a.n > 0 && !at.After(a.pending[(a.head+a.n-1)%len(a.pending)].at) {
		return
	}
	if a.n == len(a.pending) {
		a.head = (a.head + 1) % len(a.pending)
		a.n--
	}
	a.pending[(a.head+a.n)%len(a.pending)] = pendingForecast{at: at, point: point, low: low, high: high}
	a.n++
}

// observe scores the forecast for time at, if one is pending, against the
// actual load, and drops the forecasts for earlier times, whose actuals
// never came. A NaN actual is a gap: nothing is scored.
func (a *accuracyTracker) observe(at time.Time, actual float64) {
	for a.n > 0 {
		p := &a.pending[a.head]
		if p.at.After(at) {
			return
		}
		a.head = (a.head + 1) % len(a.pending)
		a.n--
		if p.at.Equal(at) && !math.IsNaN(actual) && !math.IsInf(actual, 0) {
			a.score(p, actual)
		}
	}
}

func (a *accuracyTracker) score(p *pendingForecast, actual float64) {
	a.points++
	a.absErr += math.Abs(p.point - actual)
	a.err += p.point - actual
	a.absActual += math.Abs(actual)
	if actual >= p.low && actual <= p.high {
		a.inside++
	}
}

// summary returns the scores so far. WAPE and Bias are 0 while no actual
// load has been above zero.
func (a *accuracyTracker) summary() Accuracy {
	s := Accuracy{Points: a.points, IntervalLow: accuracyLow, IntervalHigh: accuracyHigh}
	if a.absActual > 0 {
		s.WAPE = a.absErr / a.absActual
		s.Bias = a.err / a.absActual
	}
	if a.points > 0 {
		s.Coverage = float64(a.inside) / float64(a.points)
	}
	return s
}
