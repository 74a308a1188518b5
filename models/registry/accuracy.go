package registry

import (
	"math"
	"time"

	"github.com/prescale/prescale/models"
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

	// windows are the same scores window by window (the forecasts for
	// times in [start, start+width)): the last accuracyWindows of them,
	// oldest at windowHead, for the chart of accuracy over time.
	width      time.Duration
	windows    []accuracyWindow
	windowHead int
}

// accuracyWindows is how many windows of live accuracy a target keeps,
// each of accuracyWindowSteps steps and at least an hour: at one-minute
// steps, the last 48 hours. 32 bytes a window, 1.5 KiB a target.
const (
	accuracyWindows     = 48
	accuracyWindowSteps = 60
)

// accuracyWidth is the span of a target's accuracy windows.
func accuracyWidth(t *models.Target) time.Duration {
	return max(time.Hour, accuracyWindowSteps*t.Step)
}

// accuracyWindow is the scores of one window; float32 sums keep 7
// significant digits over a window's few dozen points.
type accuracyWindow struct {
	start                  int64 // unix seconds
	points, inside         int32
	absErr, err, absActual float32
}

// AccuracyWindow is the live accuracy of the forecasts for the times in
// [Start, End).
type AccuracyWindow struct {
	Start, End time.Time
	Accuracy
}

// pendingForecast is a forecast for time at: the point value and the
// accuracyLow and accuracyHigh quantiles.
type pendingForecast struct {
	at               time.Time
	point, low, high float64
}

// newAccuracyTracker returns a tracker that keeps up to capacity pending
// forecasts (the lead window in steps, plus the steps a late actual may
// take) and scores them in windows of width too.
func newAccuracyTracker(capacity int, width time.Duration) accuracyTracker {
	return accuracyTracker{pending: make([]pendingForecast, max(capacity, 1)), width: width}
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
	inside := actual >= p.low && actual <= p.high
	if inside {
		a.inside++
	}
	w := a.window(p.at)
	w.points++
	w.absErr += float32(math.Abs(p.point - actual))
	w.err += float32(p.point - actual)
	w.absActual += float32(math.Abs(actual))
	if inside {
		w.inside++
	}
}

// window returns the window of time at, begun when at is past the last
// one (actuals are scored in time order).
func (a *accuracyTracker) window(at time.Time) *accuracyWindow {
	start := at.Truncate(a.width).Unix()
	if n := len(a.windows); n > 0 {
		if last := &a.windows[(a.windowHead+n-1)%n]; last.start >= start {
			return last
		}
	}
	if len(a.windows) < accuracyWindows {
		a.windows = append(a.windows, accuracyWindow{start: start})
		return &a.windows[len(a.windows)-1]
	}
	w := &a.windows[a.windowHead]
	*w = accuracyWindow{start: start}
	a.windowHead = (a.windowHead + 1) % len(a.windows)
	return w
}

// windowsIn returns the windows that overlap [start, end), oldest first.
func (a *accuracyTracker) windowsIn(start, end time.Time) []AccuracyWindow {
	var out []AccuracyWindow
	for i := range a.windows {
		w := &a.windows[(a.windowHead+i)%len(a.windows)]
		from := time.Unix(w.start, 0)
		to := from.Add(a.width)
		if !to.After(start) || !from.Before(end) {
			continue
		}
		out = append(out, AccuracyWindow{Start: from, End: to, Accuracy: scores(int(w.points), int(w.inside),
			float64(w.absErr), float64(w.err), float64(w.absActual))})
	}
	return out
}

// summary returns the scores so far. WAPE and Bias are 0 while no actual
// load has been above zero.
func (a *accuracyTracker) summary() Accuracy {
	return scores(a.points, a.inside, a.absErr, a.err, a.absActual)
}

// scores are the Accuracy of sums.
func scores(points, inside int, absErr, err, absActual float64) Accuracy {
	s := Accuracy{Points: points, IntervalLow: accuracyLow, IntervalHigh: accuracyHigh}
	if absActual > 0 {
		s.WAPE = absErr / absActual
		s.Bias = err / absActual
	}
	if points > 0 {
		s.Coverage = float64(inside) / float64(points)
	}
	return s
}
