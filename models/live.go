package models

import (
	"math"
	"slices"
	"time"

	"github.com/prescale/prescale/anomaly"
	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
)

// Limits of the live detector.
const (
	// liveThreshold is the detector score from which a point is anomalous.
	liveThreshold = 0.5
	// detectorWarmUp is the fewest trailing points of a fit's history a new
	// detector is warmed up on (more with a long season: three seasons
	// and a window).
	detectorWarmUp = 4000
)

// Anomaly kinds reported by the registry (models/registry), besides forecast's
// outage, spike and dip found in the training history.
const (
	AnomalyLive       = "live"        // flagged by the streaming detector
	AnomalyLevelShift = "level_shift" // a confirmed level shift (a refit follows)
)

// AnomalyEvent is a span of a target's load flagged as anomalous.
type AnomalyEvent struct {
	Start time.Time
	End   time.Time // exclusive
	Kind  string
	// Score is the detector's largest score over the span, in [0,1]; 1
	// for spans found in training.
	Score float64
}

// LiveDetector is a target's streaming anomaly detector: it scores each
// new point, reports the spans it flags and the level shifts it confirms
// (a level shift asks for a refit), and says when it has fallen too far
// behind to stream. The registry and the backtest both use it.
type LiveDetector struct {
	d         *anomaly.Default
	step      time.Duration
	start     time.Time // the time of the detector's first point
	end       time.Time // the time of the last point it took
	lastShift int       // Shifts up to this index have been reported
	live      AnomalyEvent
	liveOpen  bool
	emit      func(AnomalyEvent)
	// known holds the windows of known events: the detector takes their
	// points as gaps, so an announced spike is neither flagged nor
	// confirmed as a level shift, nor learned as usual variation.
	known *events.Calendar
}

// NewLiveDetector makes the detector for a model with seasons (in steps)
// fitted on history (trimmed to its finite points first..last), with the
// shortest season, and warms it up on the end of that history. Level shifts within
// the warm-up are history: the fit has seen them. Each closed anomaly span
// and each level shift goes to emit. The points within known's windows
// are gaps to it (nil: none; see SetKnown).
func NewLiveDetector(seasons []int, history *feed.Series, first, last int, known *events.Calendar, emit func(AnomalyEvent)) (*LiveDetector, error) {
	period := -1 // no season
	if len(seasons) > 0 {
		period = slices.Min(seasons)
	}
	d, err := anomaly.NewDefault(&anomaly.Options{Period: period})
	if err != nil {
		return nil, err
	}
	from := max(first, last+1-max(detectorWarmUp, 3*period+anomaly.DefaultWindow))
	l := &LiveDetector{d: d, step: history.Step, start: history.Time(from), end: history.Time(last), lastShift: -1, emit: emit, known: known}
	for i, v := range history.Values[from : last+1] {
		d.Update(l.taken(history.Time(from+i), v)) // the detector takes non-finite values as gaps
	}
	if shifts := d.Shifts(); len(shifts) > 0 {
		l.lastShift = shifts[len(shifts)-1]
	}
	return l, nil
}

// SetKnown replaces the calendar of known events whose windows are gaps
// to the detector (a target's calendar changed; nil: none).
func (l *LiveDetector) SetKnown(known *events.Calendar) { l.known = known }

// taken is the value the detector takes for v at t: NaN (a gap) within a
// known event's window.
func (l *LiveDetector) taken(t time.Time, v float64) float64 {
	if l.known.Within(t) {
		return math.NaN()
	}
	return v
}

// End is the time of the last point the detector took.
func (l *LiveDetector) End() time.Time { return l.end }

// Gap is how many steps are missing between the last point the detector
// took and t.
func (l *LiveDetector) Gap(t time.Time) int { return StepsBetween(l.end, t, l.step) }

// Observe takes v at t, after gap missing steps, and reports whether it
// confirmed a new level shift.
func (l *LiveDetector) Observe(t time.Time, v float64, gap int) bool {
	for range gap {
		l.d.Update(math.NaN())
	}
	if gap > 0 {
		l.Close()
	}
	l.score(t, l.d.Update(l.taken(t, v)))
	l.end = t
	shifts := l.d.Shifts()
	if len(shifts) == 0 || shifts[len(shifts)-1] <= l.lastShift {
		return false
	}
	for _, k := range shifts {
		if k > l.lastShift {
			l.emit(AnomalyEvent{
				Start: l.start.Add(time.Duration(k) * l.step),
				End:   t.Add(l.step),
				Kind:  AnomalyLevelShift,
				Score: 1,
			})
		}
	}
	l.lastShift = shifts[len(shifts)-1]
	return true
}

// score extends the open live span with the point at t, or opens one, when
// its score reaches liveThreshold, and closes it otherwise.
func (l *LiveDetector) score(t time.Time, score float64) {
	if !(score >= liveThreshold) {
		l.Close()
		return
	}
	if l.liveOpen && l.live.End.Equal(t) {
		l.live.End = t.Add(l.step)
		l.live.Score = max(l.live.Score, score)
		return
	}
	l.Close()
	l.live = AnomalyEvent{Start: t, End: t.Add(l.step), Kind: AnomalyLive, Score: score}
	l.liveOpen = true
}

// Close ends the open live span, if any.
func (l *LiveDetector) Close() {
	if l.liveOpen {
		l.emit(l.live)
		l.liveOpen = false
	}
}

// Open is the live span still open.
func (l *LiveDetector) Open() (AnomalyEvent, bool) { return l.live, l.liveOpen }
