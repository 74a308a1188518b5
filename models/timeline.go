package models

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
)

// What one target does over time, in one place: when it is fitted, when a
// level shift or a long gap forces a refit and how such refits are spaced,
// which points a target takes next, how its history is fitted, how long
// its data stays fresh. It is pure and clock-driven: the registry drives
// it with the wall clock, the backtest (models/backtest) with the replay
// clock, so that the backtest replays exactly what `prescale serve` does.

// Limits of a target's schedule.
const (
	// shiftRefitSteps is the fewest steps between refits for level shifts.
	shiftRefitSteps = 10
	// maxBackoffShift bounds the doubling of the retry delay of failing fits.
	maxBackoffShift = 20
	// restoreSpread bounds the random delay of the background refit of a
	// target restored from its snapshot, so that a restart does not refit
	// every target at once.
	restoreSpread = 10 * time.Minute
	// Fit horizons, in steps: twice the lead window within these bounds.
	minFitHorizon = 48
	maxFitHorizon = 1440
)

// Timeline schedules one target's fits. It holds no model and reads no
// clock: every method takes the time it is called at. It is not safe for
// concurrent use (the registry guards it with the target's lock).
type Timeline struct {
	step    time.Duration
	refit   time.Duration
	fitted  bool // a fit has succeeded
	next    time.Time
	fitting bool
	// asked is the soonest refit asked for (a level shift, a model behind)
	// since the running fit began: that fit did not see the data that
	// asked for it, so it does not cancel it.
	asked    time.Time
	failures int
	shiftAt  time.Time // the last refit asked for a level shift
	// jitter draws the factor the refit interval is scaled by; nil is 1.
	jitter func() float64
}

// NewTimeline returns the schedule of target t, with its first fit due at
// now. jitter, when not nil, draws the factor each refit interval is
// multiplied by (the registry spreads refits by ±10%); the backtest passes
// nil.
func NewTimeline(t *Target, now time.Time, jitter func() float64) *Timeline {
	return &Timeline{step: t.Step, refit: t.RefitInterval, next: now, jitter: jitter}
}

// Next is when the next fit is due.
func (tl *Timeline) Next() time.Time { return tl.next }

// NextRefit is when the next fit is due, as a status shows it: while a fit
// runs, the refit asked for meanwhile, or zero.
func (tl *Timeline) NextRefit() time.Time {
	if tl.fitting {
		return tl.asked
	}
	return tl.next
}

// Due reports whether a fit is due at now.
func (tl *Timeline) Due(now time.Time) bool { return !tl.fitting && !now.Before(tl.next) }

// Fitting reports whether a fit has begun and not ended.
func (tl *Timeline) Fitting() bool { return tl.fitting }

// Failing reports whether the last fit failed (its retries back off).
func (tl *Timeline) Failing() bool { return tl.failures > 0 }

// Failures is how many fits in a row have failed.
func (tl *Timeline) Failures() int { return tl.failures }

// BeginFit marks a fit as begun: the data it fits ends now.
func (tl *Timeline) BeginFit() { tl.fitting, tl.asked = true, time.Time{} }

// Fitted records a successful fit at now and returns when the next is
// due: a (jittered) refit interval later, or sooner if a refit was asked
// for while it ran.
func (tl *Timeline) Fitted(now time.Time) time.Time {
	tl.fitting, tl.fitted, tl.failures = false, true, 0
	tl.next = now.Add(tl.interval())
	if !tl.asked.IsZero() && tl.asked.Before(tl.next) {
		tl.next = later(tl.asked, now)
	}
	return tl.next
}

// FitFailed records a failed fit at now and returns the delay before it is
// tried again: a minute, doubling with each failure in a row, at most the
// refit interval. The model in use, if any, stays.
func (tl *Timeline) FitFailed(now time.Time) time.Duration {
	tl.fitting = false
	tl.failures++
	backoff := min(tl.refit, time.Minute<<min(tl.failures-1, maxBackoffShift))
	tl.next = now.Add(backoff)
	return backoff
}

// Cancel ends a fit that was abandoned (a shutdown, a change of
// configuration) without counting it; the next is due at once.
func (tl *Timeline) Cancel(now time.Time) {
	tl.fitting = false
	tl.next = earliest(tl.next, now)
}

// Shift records a level shift the live detector confirmed at now and
// returns when the refit it asks for is due: at once, but no sooner than
// shiftRefitSteps steps after the last refit asked for a shift.
func (tl *Timeline) Shift(now time.Time) time.Time {
	at := now
	if !tl.shiftAt.IsZero() {
		at = later(at, tl.shiftAt.Add(shiftRefitSteps*tl.step))
	}
	tl.shiftAt = at
	tl.ask(at)
	return at
}

// Behind records that the model or the detector fell more than MaxGap
// steps behind the data at now: they are replaced by a refit at once,
// unless fits are failing (then their backoff stands). It reports whether
// a refit was asked for.
func (tl *Timeline) Behind(now time.Time) bool {
	if tl.failures > 0 {
		return false
	}
	tl.ask(now)
	return true
}

// RefitNow asks for a refit at now and returns when it is due: now, or
// sooner if one was due already.
func (tl *Timeline) RefitNow(now time.Time) time.Time {
	tl.ask(now)
	return tl.next
}

func (tl *Timeline) ask(at time.Time) {
	if tl.fitting {
		tl.asked = earliest(tl.asked, at)
	}
	tl.next = earliest(tl.next, at)
}

// Restored records a model restored from a snapshot at now; it is refitted
// in the background a step and a random share u in [0, 1) of its refit
// interval (at most restoreSpread) later. It returns that time.
func (tl *Timeline) Restored(now time.Time, u float64) time.Time {
	tl.fitting, tl.fitted, tl.failures = false, true, 0
	tl.next = now.Add(tl.step + time.Duration(u*float64(min(tl.refit, restoreSpread))))
	return tl.next
}

// SetRefitInterval changes the refit interval; a model fitted at fittedAt
// that is not failing is refitted an interval after it. It returns when
// the next fit is due.
func (tl *Timeline) SetRefitInterval(d time.Duration, fittedAt time.Time) time.Time {
	changed := d != tl.refit
	tl.refit = d
	if changed && tl.fitted && tl.failures == 0 && !tl.fitting {
		tl.next = fittedAt.Add(tl.interval())
	}
	return tl.next
}

func (tl *Timeline) interval() time.Duration {
	if tl.jitter == nil {
		return tl.refit
	}
	return time.Duration(float64(tl.refit) * tl.jitter())
}

// MaxGap is how many steps a model or detector may be behind and still
// catch up by streaming: half the history. Further behind, it is refitted.
func MaxGap(t *Target) int { return max(1, int(t.History/t.Step/2)) }

// FetchStart is the first grid point a target takes next when its data
// ends at end: the one after watermark (the last point every part of its
// state has taken), or, with nothing taken yet, initial points back; never
// more than MaxGap steps back. skipped says points after the watermark
// were left out: a model that has not seen them is refitted rather than
// streamed through the gap, once the fetch brings data (a refit during an
// outage would see nothing new).
func FetchStart(t *Target, watermark, end time.Time, initial int) (start time.Time, skipped bool) {
	if watermark.IsZero() {
		start = end.Add(-time.Duration(max(initial, 1)-1) * t.Step)
	} else {
		start = watermark.Add(t.Step)
	}
	if earliest := end.Add(-time.Duration(MaxGap(t)) * t.Step); earliest.After(start) {
		return earliest, !watermark.IsZero()
	}
	return start, false
}

// HistoryStart is the first grid point of the history a fit at end reads.
func HistoryStart(t *Target, end time.Time) time.Time {
	n := max(int(t.History/t.Step), minHistorySteps)
	return end.Add(-time.Duration(n-1) * t.Step)
}

// FitHistory fits target t's model on its history, trimmed to its first
// and last finite points, which it returns.
func FitHistory(t *Target, history *feed.Series) (f *forecast.Fitted, first, last int, err error) {
	return fitValues(t, history, history.Values, nil)
}

// FitHistoryEvents is FitHistory with a calendar of known events: the
// windows of their occurrences are gaps to the model (their load is not
// the usual one, as an outage's is not), and the effect of each event is
// learned from the history as it is (events.Learn).
func FitHistoryEvents(t *Target, history *feed.Series, cal *events.Calendar) (f *forecast.Fitted, first, last int, fx *events.Effects, err error) {
	if cal == nil {
		f, first, last, err = FitHistory(t, history)
		return f, first, last, nil, err
	}
	values := slices.Clone(history.Values)
	for i, in := range cal.Mask(len(values), history.Start, history.Step) {
		if in {
			values[i] = math.NaN()
		}
	}
	f, first, last, err = fitValues(t, history, values, history.Values)
	return f, first, last, events.Learn(cal, history.Values, history.Start, history.Step), err
}

// FiniteBounds returns the indices of the first and last finite values;
// 0 and -1 without one.
func FiniteBounds(values []float64) (first, last int) {
	first, last = 0, -1
	for i, v := range values {
		if finite(v) {
			if last < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

// observedPart is observed[first:last+1], nil for nil.
func observedPart(observed []float64, first, last int) []float64 {
	if observed == nil {
		return nil
	}
	return observed[first : last+1]
}

// fitValues fits on values, the history's as they are or masked; observed
// (nil when values are the history's own) are the history's values, on
// which the model's short-horizon dynamics are tuned (see
// forecast.Options.Observed).
func fitValues(t *Target, history *feed.Series, values, observed []float64) (f *forecast.Fitted, first, last int, err error) {
	first, last = FiniteBounds(values)
	if last < 0 {
		return nil, 0, 0, fmt.Errorf("fetch history: no data in the %s before %s", fmtDuration(t.History), history.End().Format(time.RFC3339))
	}
	f, err = forecast.Fit(values[first:last+1], &forecast.Options{
		Model:    t.Model,
		Horizon:  fitHorizon(t),
		Lead:     min(t.LeadSteps(), fitHorizon(t)),
		Periods:  periods(t),
		Step:     t.Step,
		Observed: observedPart(observed, first, last),
	})
	if err != nil {
		return nil, first, last, fmt.Errorf("fit %d points: %w", last+1-first, err)
	}
	return f, first, last, nil
}

// StaleAfter is how old a target's data may be before it is stale: the
// override when positive, else two steps plus StaleGrace (a point is
// normally one step old when it is read).
func StaleAfter(t *Target, override time.Duration) time.Duration {
	if override > 0 {
		return override
	}
	return 2*t.Step + StaleGrace
}

// ForecastSteps is how many steps of a target's quantile forecast are kept
// after its last observation, when data reaches the autoscaler lag late:
// the lead window, reaching past it by the staleness threshold and two
// steps, so that it covers the window until the data turns stale.
func ForecastSteps(t *Target, lag, staleAfter time.Duration) int {
	return int(ceilDiv(lag+t.LeadTime+t.Margin, t.Step)) + int(ceilDiv(staleAfter, t.Step)) + 2
}

// Advance streams one observation v at t into a fitted model, after gap
// missing steps of step. With known events (fx: nil for none), the
// forecast each point makes for the lead is scored as the policy will
// provision it, the median forecast as the events' effects adjust it
// (see scoredAs): the model was trained with the events kept out, so its
// own errors within their windows are those of a forecast that does not
// know them, and would widen its intervals in every window, after the
// peak as in the rise.
func Advance(f *forecast.Fitted, gap int, v float64, t time.Time, step time.Duration, fx *events.Effects) error {
	for k := range gap + 1 {
		y := v
		if k < gap {
			y = math.NaN()
		}
		at := t.Add(-time.Duration(gap-k) * step)
		if err := f.ObserveAdjusted(y, scoredAs(f, fx, y, at, step)); err != nil {
			return err
		}
	}
	return nil
}

// scoredAs is the forecast a point y at t makes for the model's lead, as
// Advance scores it: adjusted at the median, given y, by the learned
// effect of the event whose window holds that time (what its past
// occurrences did, in the lead and the lag as in the event), or by a
// declared one within the event itself (a declared effect holds over the
// lead too, to scale before the load arrives: a provision, not the load's
// course); nil (the model's own) outside every window, without Dynamics
// or events. An event with no effect known keeps the model's: its
// widening is a quantile's, not a median.
func scoredAs(f *forecast.Fitted, fx *events.Effects, y float64, t time.Time, step time.Duration) func(float64) float64 {
	if f.Dynamics == nil || fx.Known() == nil {
		return nil
	}
	ahead := t.Add(time.Duration(f.Dynamics.Lead) * step)
	if !fx.Known().Within(ahead) {
		return nil
	}
	now := events.Observation{Value: y, At: t}
	return func(c float64) float64 {
		v, use := fx.Adjust(c, ahead, 0.5, now)
		switch {
		case use == nil || !validLoad(v):
			return c // the state keeps no value that is not a load
		case use.Source == "learned":
			return v
		case use.Source == "declared" && !ahead.Before(use.Occurrence.Start) && ahead.Before(use.Occurrence.End):
			return v
		}
		return c
	}
}

// LeadSteps is the lead window, LeadTime+Margin, in whole steps.
func (t *Target) LeadSteps() int {
	return max(1, int(ceilDiv(t.LeadTime+t.Margin, t.Step)))
}

// fitHorizon is the horizon a target's model is fitted and calibrated for.
func fitHorizon(t *Target) int {
	return min(max(2*t.LeadSteps(), minFitHorizon), maxFitHorizon)
}

func ceilDiv(a, b time.Duration) time.Duration { return (a + b - 1) / b }

// periods are the declared seasons in steps.
func periods(t *Target) []int {
	var out []int
	for _, s := range t.Seasons {
		out = append(out, int(s/t.Step))
	}
	return out
}

// StepsBetween is how many grid steps lie strictly between a and b.
func StepsBetween(a, b time.Time, step time.Duration) int {
	return max(int(b.Sub(a)/step)-1, 0)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// earliest is the earlier of a and b, a zero time counting as none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
